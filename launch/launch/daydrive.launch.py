"""Launches the daydrive drive node (rclnodejs) with its parameters.

    ros2 launch daydrive daydrive.launch.py [params_file:=FILE] [use_sim_time:=true]

Also runs straight from the source tree without colcon:

    ros2 launch launch/launch/daydrive.launch.py

The node is the daydrive Node.js program: installed, the package's `drive` executable (what
`ros2 run daydrive drive` runs); from the source tree, `node dist/src/cli/main.js drive`. launch_ros
appends `--ros-args -r __node:=daydrive --params-file ...`, which the program hands to rcl. On
Ctrl-C launch sends SIGINT; the node stops the car (speed 0, unless the safety driver has it) and
exits 0 (SIGTERM follows after sigterm_timeout if it has not exited).
"""

import os
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


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


def generate_launch_description():
    share = _share_dir()
    root = _daydrive_root(share)
    config_dir = share / 'config' if share is not None else Path(__file__).resolve().parents[1] / 'config'
    main_js = root / 'dist' / 'src' / 'cli' / 'main.js'

    params_file = LaunchConfiguration('params_file')
    use_sim_time = LaunchConfiguration('use_sim_time')

    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file',
            default_value=str(config_dir / 'daydrive.params.yaml'),
            description='ROS 2 parameters of the drive node (every setting is documented in it)'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='use /clock (a simulator or a bag) instead of the system clock'),
        Node(
            # Installed: lib/daydrive/drive (it finds the program itself); else node + main.js.
            **({'package': 'daydrive', 'executable': 'drive'} if share is not None
               else {'executable': 'node', 'arguments': [str(main_js), 'drive']}),
            name='daydrive',
            output='screen',
            parameters=[params_file, {'use_sim_time': use_sim_time}],
            cwd=str(root),
            # Time for the zero-speed command and the shutdown after SIGINT.
            sigterm_timeout='10',
        ),
    ])
