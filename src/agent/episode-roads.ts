import { TEST_ROAD_SEED_BASE, VARIED_ROAD_SEED_BASE } from './road-seeds.js';
import type { EpisodeRecord } from './training.js';

/**
 * Which road a training episode that begins a new road, or a test on a new road, drives: a pure
 * function of the records so far, so a resumed run drives the roads it would have driven.
 */
export type RoadPicker = (records: readonly EpisodeRecord[]) => number;

export interface EpisodeRoads {
  readonly training: RoadPicker;
  readonly test: RoadPicker;
}

/** How the looks of a run's new roads are chosen. */
export const ROAD_LOOKS = ['drawn', 'balanced'] as const;
export type RoadLooks = (typeof ROAD_LOOKS)[number];

/** 'drawn' roads: seed `base` + the number of episodes so far (the simulator draws each road's look). */
export function drawnRoads(base: number): RoadPicker {
  return (records) => base + records.length;
}

/**
 * 'balanced' roads: the n-th episode of its kind drives `seedAt(n)` (a sequence balanced over
 * every look, sim/looks.ts), so that n episodes of a kind cover the looks evenly, whatever the
 * other kind's episodes between them.
 */
export function sequencedRoads(kind: 'training' | 'test', seedAt: (index: number) => number): RoadPicker {
  return (records) => seedAt(records.filter((r) => (r.mode === 'test') === (kind === 'test')).length);
}

/** Drawn training roads from VARIED_ROAD_SEED_BASE and test roads from TEST_ROAD_SEED_BASE: episodeReset's roads when given none. */
export const DRAWN_EPISODE_ROADS: EpisodeRoads = {
  training: drawnRoads(VARIED_ROAD_SEED_BASE),
  test: drawnRoads(TEST_ROAD_SEED_BASE),
};
