"""The controllers with real processes behind them (the sandbox's default; stand-ins run with --stand-ins)."""

from .build import BuildConfigController, BuildController
from .cnpg_backup import BackupController, ScheduledBackupController
from .cnpg_cluster import ClusterController
from .cnpg_database import DatabaseController
from .daemonsets import DaemonSetController
from .deployments import DeploymentController
from .jobs import JobController
from .pods import PodController
from .replicasets import ReplicaSetController
from .services import RouteController, ServiceController
from .statefulsets import StatefulSetController

REAL = (PodController, ReplicaSetController, DeploymentController, StatefulSetController, DaemonSetController,
        JobController, ServiceController, RouteController,
        BuildConfigController, BuildController, ClusterController, DatabaseController, BackupController,
        ScheduledBackupController)
