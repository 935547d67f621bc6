"""The helm commands that need no chart, release or cluster, answered without loading the Helm SDK: `version` and
`plugin list`. kubernetes.core.helm runs both before its other calls (a third of the helm double's calls), and
loading the SDK's library is most of what a call of the double costs. The SDK's version comes from
`SANDBOX_HELM_SDK_BUILD` ("<SDK version> <helm-python-sdk version>"), which `bin/helm` sets (files.write_helm_executable reads it from the SDK once, when the
sandbox starts); without it, from the SDK itself.
"""

from __future__ import annotations

import os
import sys

from .arguments import CommandError

SDK_BUILD_ENV = "SANDBOX_HELM_SDK_BUILD"


def sdk_build() -> tuple[str, str]:
    """(the Helm SDK's version, helm-python-sdk's version)."""
    known = os.environ.get(SDK_BUILD_ENV, "")
    if " " in known:
        sdk_version, package_version = known.split(" ", 1)
        return sdk_version, package_version
    import helm_python  # pylint: disable=import-outside-toplevel  # loads the SDK's library: only when not known
    return helm_python.helm_sdk_version(), helm_python.__version__


def version(args, _config) -> int:
    sdk_version, package_version = sdk_build()
    if args.short:
        sys.stdout.write(f"{sdk_version}\n")
    else:
        sys.stdout.write(f'version.BuildInfo{{Version:"{sdk_version}", GitCommit:"helm-python-sdk-{package_version}", '
                         'GitTreeState:"clean", GoVersion:"go1.25", KubeClientVersion:"v1.34"}\n')
    return 0


def plugin(args, _config) -> int:
    if args.action != "list":
        raise CommandError(f"the sandbox helm has no plugins to {args.action}")
    sys.stdout.write("NAME\tVERSION\tTYPE\tAPIVERSION\tPROVENANCE\tSOURCE\n")
    return 0
