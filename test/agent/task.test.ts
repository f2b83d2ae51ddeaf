import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INITIAL_TASK_STATE, TaskStateMachine, taskTransition, type TaskEvent } from '../../src/agent/task.js';

const cmd = (command: 'train' | 'test' | 'undo' | 'done'): TaskEvent => ({ kind: 'command', command });
const ended: TaskEvent = { kind: 'episode-ended' };
const optimised: TaskEvent = { kind: 'optimisation-finished' };

test('the first episodes explore, then train; an intervention mid-episode leads to optimisation, then waiting', () => {
  const m = new TaskStateMachine(1);
  assert.deepEqual(m.dispatch(cmd('train')).effects, [{ kind: 'start-episode', mode: 'explore' }]);
  assert.equal(m.state.phase, 'driving');
  // The safety driver takes over mid-episode: the episode ends, optimisation is due.
  assert.deepEqual(m.dispatch(ended).effects, [{ kind: 'optimise' }]);
  assert.equal(m.state.phase, 'optimising');
  assert.equal(m.state.learningEpisodes, 1);
  m.dispatch(optimised);
  assert.equal(m.state.phase, 'waiting');
  assert.deepEqual(m.dispatch(cmd('train')).effects, [{ kind: 'start-episode', mode: 'train' }]);
});

test('a test episode does not learn and returns to waiting', () => {
  const m = new TaskStateMachine(0);
  assert.deepEqual(m.dispatch(cmd('test')).effects, [{ kind: 'start-episode', mode: 'test' }]);
  assert.deepEqual(m.dispatch(ended).effects, []);
  assert.equal(m.state.phase, 'waiting');
  assert.equal(m.state.learningEpisodes, 0);
});

test('commands during an episode are refused; during optimisation train/test wait for it', () => {
  const m = new TaskStateMachine(0);
  m.dispatch(cmd('train'));
  const refused = m.dispatch(cmd('test'));
  assert.match(refused.refused ?? '', /an episode is running/);
  assert.equal(m.state.phase, 'driving');
  m.dispatch(ended);
  assert.deepEqual(m.dispatch(cmd('test')).effects, []);
  assert.equal(m.state.pending, 'test');
  assert.deepEqual(m.dispatch(optimised).effects, [{ kind: 'start-episode', mode: 'test' }]);
  assert.equal(m.state.phase, 'driving');
});

test('undo after a bad episode: once, only when a training episode happened since', () => {
  const m = new TaskStateMachine(0);
  assert.match(m.dispatch(cmd('undo')).refused ?? '', /nothing to undo/);
  m.dispatch(cmd('train'));
  m.dispatch(ended);
  m.dispatch(optimised);
  m.dispatch(cmd('test'));
  m.dispatch(ended);
  assert.deepEqual(m.dispatch(cmd('undo')).effects, [{ kind: 'undo' }]);
  assert.equal(m.state.learningEpisodes, 0);
  assert.match(m.dispatch(cmd('undo')).refused ?? '', /nothing to undo/);
});

test('done ends everything, from any phase; nothing is accepted after it', () => {
  for (const events of [[], [cmd('train')], [cmd('train'), ended]] as TaskEvent[][]) {
    let state = INITIAL_TASK_STATE;
    for (const e of events) state = taskTransition(state, e, 0).state;
    const step = taskTransition(state, cmd('done'), 0);
    assert.equal(step.state.phase, 'done');
    assert.deepEqual(step.effects, [{ kind: 'finish' }]);
    assert.match(taskTransition(step.state, cmd('train'), 0).refused ?? '', /done/);
  }
});
