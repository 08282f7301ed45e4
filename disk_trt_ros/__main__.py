import sys

from disk_trt_ros.cli import main

sys.exit(main())
