"""Launches the daydrive drive node (rclnodejs) with its parameters, and with
learner_mode:=external its learner (`daydrive learner`) beside it.

    ros2 launch daydrive daydrive.launch.py [params_file:=FILE] [use_sim_time:=true]
        [learner_mode:=in-process|child-process|external] [learner_endpoints:=UPLINK,DOWNLINK]

Also runs straight from the source tree without colcon:

    ros2 launch launch/launch/daydrive.launch.py

The node is the daydrive Node.js program: installed, the package's `drive` executable (what
`ros2 run daydrive drive` runs); from the source tree, `node dist/src/cli/main.js drive`. launch_ros
appends `--ros-args -r __node:=daydrive --params-file ...`, which the program hands to rcl. On
Ctrl-C launch sends SIGINT; the node stops the car (speed 0, unless the safety driver has it) and
exits 0 (SIGTERM follows after sigterm_timeout if it has not exited).

learner_mode '' (the default) leaves the node's learner as the parameters file says (child-process
unless it says otherwise) and starts nothing else. learner_mode:=external starts `daydrive learner`
with the same parameters file, bound at learner_endpoints (loopback by default; anything else needs
learner_curve_keys in the file), restarts it when it dies (it resumes from its checkpoint), and
gives the node learner_mode external at those endpoints. in-process / child-process only set the
node's learner_mode. docs/ros.md and docs/transport.md have the details.
"""

import os
from pathlib import Path

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, LogInfo, OpaqueFunction,
                            RegisterEventHandler, TimerAction)
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

# The node's learner_mode values (src/ros/params.ts LEARNER_MODES); '' = the parameters file's.
LEARNER_MODES = ('', 'in-process', 'child-process', 'external')
# Where `daydrive learner` binds by default (src/transport/endpoint.ts DEFAULT_LEARNER_ENDPOINTS).
DEFAULT_LEARNER_ENDPOINTS = 'tcp://127.0.0.1:5755,tcp://127.0.0.1:5756'
# A learner that dies is started again this much later (as the node restarts a child learner).
LEARNER_RESTART_DELAY_S = 1.0
# `daydrive learner`'s exit status for bad settings (a one-line error): starting it again would not help.
BAD_SETTINGS_EXIT = 2


def _share_dir():
    """The installed package's share directory, or None when run from the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory('daydrive'))
    except PackageNotFoundError:
        return None


def _daydrive_root(share):
    """Where the daydrive program lives: DAYDRIVE_HOME, else recorded at build, else this checkout."""
    if os.environ.get('DAYDRIVE_HOME'):
        return Path(os.environ['DAYDRIVE_HOME'])
    if share is not None and (share / 'daydrive_root').is_file():
        return Path((share / 'daydrive_root').read_text().strip())
    return Path(__file__).resolve().parents[2]


def learner_plan(learner_mode, learner_endpoints):
    """What the learner launch arguments ask for: the node's parameter overrides, and whether
    this launch file starts `daydrive learner` (learner_mode external)."""
    if learner_mode not in LEARNER_MODES:
        raise ValueError(f"launch argument learner_mode '{learner_mode}' is not one of "
                         f"{', '.join(m for m in LEARNER_MODES if m)} (or '' for the parameters file's)")
    overrides = {}
    if learner_mode:
        overrides['learner_mode'] = learner_mode
    start_learner = learner_mode == 'external'
    if start_learner:
        if not learner_endpoints:
            raise ValueError('launch argument learner_mode:=external needs learner_endpoints (UPLINK,DOWNLINK)')
        overrides['learner_endpoints'] = learner_endpoints
    return overrides, start_learner


def learner_command(main_js, params_file, learner_endpoints, ros_namespace):
    """`daydrive learner` with the node's parameters file, bound at learner_endpoints; the
    namespace makes it read the file's keys as the node under it does."""
    cmd = ['node', str(main_js), 'learner', '--params', params_file, '--endpoints', learner_endpoints]
    if ros_namespace:
        cmd += ['--ros-args', '-r', f'__ns:={ros_namespace}']
    return cmd


def learner_actions(cmd, root):
    """`daydrive learner`, started again LEARNER_RESTART_DELAY_S after it dies (it resumes from its
    checkpoint), unless launch is shutting down, it stopped cleanly (0), or it refused its settings
    (exit 2: one line says why; restarting would only repeat it)."""
    learner = ExecuteProcess(
        cmd=cmd,
        name='daydrive_learner',
        cwd=str(root),
        output='screen',
        # SIGINT: it checkpoints (networks, optimisers, replay), then exits 0.
        sigterm_timeout='30',
    )

    def on_exit(event, context):
        if context.is_shutdown or event.returncode == 0:
            return None
        if event.returncode == BAD_SETTINGS_EXIT:
            return [LogInfo(msg='daydrive learner refused its settings (exit 2, the line above says why): '
                                'not started again; learning stops until it is fixed')]
        return [LogInfo(msg=f'daydrive learner died (exit {event.returncode}): starting it again from its checkpoint'),
                TimerAction(period=LEARNER_RESTART_DELAY_S, actions=learner_actions(cmd, root))]

    return [learner, RegisterEventHandler(OnProcessExit(target_action=learner, on_exit=on_exit))]


def _drive_actions(context, share, root, main_js):
    params_file = LaunchConfiguration('params_file').perform(context)
    learner_mode = LaunchConfiguration('learner_mode').perform(context)
    learner_endpoints = LaunchConfiguration('learner_endpoints').perform(context)
    overrides, start_learner = learner_plan(learner_mode, learner_endpoints)
    actions = []
    if start_learner:
        if not main_js.is_file():
            raise RuntimeError(f'daydrive is not built at {root} (no dist/src/cli/main.js): run '
                               '`npm ci && npm run build` there, or set DAYDRIVE_HOME')
        cmd = learner_command(main_js, params_file, learner_endpoints,
                              context.launch_configurations.get('ros_namespace', ''))
        actions += learner_actions(cmd, root)
    actions.append(Node(
        # Installed: lib/daydrive/drive (it finds the program itself); else node + main.js.
        **({'package': 'daydrive', 'executable': 'drive'} if share is not None
           else {'executable': 'node', 'arguments': [str(main_js), 'drive']}),
        name='daydrive',
        output='screen',
        parameters=[params_file, {'use_sim_time': LaunchConfiguration('use_sim_time'),
                                  **{k: ParameterValue(v, value_type=str) for k, v in overrides.items()}}],
        cwd=str(root),
        # Time for the zero-speed command and the shutdown after SIGINT.
        sigterm_timeout='10',
    ))
    return actions


def generate_launch_description():
    share = _share_dir()
    root = _daydrive_root(share)
    config_dir = share / 'config' if share is not None else Path(__file__).resolve().parents[1] / 'config'
    main_js = root / 'dist' / 'src' / 'cli' / 'main.js'

    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file',
            default_value=str(config_dir / 'daydrive.params.yaml'),
            description='ROS 2 parameters of the drive node (every setting is documented in it)'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='use /clock (a simulator or a bag) instead of the system clock'),
        DeclareLaunchArgument(
            'learner_mode', default_value='',
            description="the node's learner_mode: '' = the parameters file's (child-process unless it "
                        "says otherwise); 'external' also starts `daydrive learner` at learner_endpoints"),
        DeclareLaunchArgument(
            'learner_endpoints', default_value=DEFAULT_LEARNER_ENDPOINTS,
            description='with learner_mode:=external, where the learner binds and the node connects '
                        '(UPLINK,DOWNLINK; anything but loopback needs learner_curve_keys in the parameters file)'),
        OpaqueFunction(function=_drive_actions, args=[share, root, main_js]),
    ])
