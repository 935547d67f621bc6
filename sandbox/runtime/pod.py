"""One running Pod: pull (resolve) its image, materialise its configuration, run its container's process,
probe it, restart it with back-off, and report all of it in the Pod's status as the kubelet does.

The sandbox runs the first container of a pod (the chart's pods have one); init containers are refused.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ..controllers.client import ApiError
from ..timestamps import format_time
from . import images, podspec
from .probes import Probe, wait_step
from .processes import Process

LOG = logging.getLogger(__name__)

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# kubelet: 10 s doubling up to 5 min; shortened here, same shape.
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 20.0
MAX_GRACE = 10.0
RELIST = 1.0  # seconds between the kubelet's looks at its containers (PLEG relist period)


def stamp(when: float | None = None) -> str:
    moment = datetime.datetime.fromtimestamp(when if when is not None else time.time(), datetime.timezone.utc)
    return format_time(moment)


class PodRunner:
    def __init__(self, runtime: Any, client: Any, pod: dict[str, Any]):
        self.runtime = runtime
        self.client = client
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.pod = pod
        self.folder: Path = runtime.pods_dir / self.namespace / self.name
        self.address = runtime.network.pod_address(self.uid)
        self.stopping = threading.Event()
        self.process: Process | None = None
        spec = pod.get("spec") or {}
        self.container = (spec.get("containers") or [{}])[0]
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.grace = min(float(spec.get("terminationGracePeriodSeconds", 30)), MAX_GRACE)
        self.restarts = 0
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict[str, Any] = {}
        self.ready = False
        self.started = False
        self.phase = "Pending"
        self.start_time = stamp()
        self.image_id = ""
        # What the container was started with (environment, mount paths -> folders): what pods/exec runs in.
        self.env: dict[str, str] = {}
        self.mounts: dict[str, Path] = {}
        self.thread = threading.Thread(target=self._main, name=f"pod-{self.namespace}/{self.name}", daemon=True)

    @property
    def log_file(self) -> Path:
        return self.folder / "logs" / f"{self.container.get('name', 'container')}.log"

    def start(self) -> None:
        self.thread.start()

    # --- status ------------------------------------------------------------------------------------------------

    def _status(self) -> dict[str, Any]:
        now = stamp()
        previous = {c["type"]: c for c in (self.pod.get("status") or {}).get("conditions") or []}

        def cond(kind: str, value: bool, reason: str = "") -> dict[str, Any]:
            text = "True" if value else "False"
            earlier = previous.get(kind)
            found = {"type": kind, "status": text, "lastProbeTime": None,
                     "lastTransitionTime": earlier["lastTransitionTime"] if earlier and earlier.get("status") == text
                     else now}
            if reason:
                found["reason"] = reason
            return found
        not_ready = "" if self.ready else ("PodCompleted" if self.phase in ("Succeeded", "Failed")
                                          else "ContainersNotReady")
        container_status = {"name": self.container.get("name", ""), "image": self.container.get("image", ""),
                            "imageID": self.image_id, "ready": self.ready, "started": self.started,
                            "restartCount": self.restarts, "state": self.state, "lastState": self.last_state}
        if self.process is not None:
            container_status["containerID"] = f"sandbox://{self.process.pid}"
        return {"phase": self.phase, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
                "podIP": self.address, "podIPs": [{"ip": self.address}], "startTime": self.start_time,
                "qosClass": "Burstable",
                "conditions": [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                               cond("Ready", self.ready, not_ready), cond("ContainersReady", self.ready, not_ready),
                               cond("PodScheduled", True)],
                "containerStatuses": [container_status]}

    def publish(self) -> bool:
        """Write the status; False when the pod is gone (or replaced by another with the same name)."""
        for _attempt in range(5):
            current = self.client.get("v1", "Pod", self.namespace, self.name)
            if current is None or current["metadata"]["uid"] != self.uid:
                return False
            self.pod = current
            status = self._status()
            if status == current.get("status"):
                return True
            try:
                self.pod = self.client.update_status(current, status)
                return True
            except ApiError as error:
                if error.code == 404:
                    return False
                if error.code != 409:
                    raise
        return True

    def _waiting(self, reason: str, message: str) -> None:
        self.state = {"waiting": {"reason": reason, "message": message[-4000:]}}
        self.ready = False
        self.publish()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._run()
        except Exception:  # pylint: disable=broad-exception-caught  # a pod failure must not kill the runtime
            LOG.exception("pod %s/%s", self.namespace, self.name)
            if self.process is not None:
                self.process.stop(grace=1)

    def _run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if (self.pod.get("spec") or {}).get("initContainers"):
            self._waiting("CreateContainerConfigError", "the sandbox does not run init containers")
            return
        self.publish()
        image = self._pull()
        if image is None:
            return
        prepared = self._configure(image)
        if prepared is None:
            return
        env, argv = prepared
        delay = BACKOFF_FIRST
        while not self.stopping.is_set():
            code = self._run_once(env, argv)
            if code is None:  # stopped
                return
            again = self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)
            if not again:
                self.phase = "Succeeded" if code == 0 else "Failed"
                self.publish()
                return
            self.restarts += 1
            self.phase = "Running"
            self.last_state = self.state
            self._waiting("CrashLoopBackOff", f"back-off {delay:.0f}s restarting failed container="
                                              f"{self.container.get('name')} pod={self.name}_{self.namespace}")
            if self.stopping.wait(delay):
                return
            delay = min(delay * 2, BACKOFF_MAX)

    def _pull(self) -> images.Image | None:
        delay = BACKOFF_FIRST
        reference = self.container.get("image", "")
        while not self.stopping.is_set():
            try:
                image = images.resolve(reference, self.client)
                self.image_id = image.image_id
                return image
            except images.ImagePullError as exc:
                # The attempt's error, then the back-off until the next attempt (kubelet's image_manager.go).
                self._waiting("ErrImagePull", str(exc))
                if self.stopping.wait(BACKOFF_FIRST):
                    return None
                self._waiting("ImagePullBackOff", f'Back-off pulling image "{reference}": ErrImagePull: {exc}')
            if self.stopping.wait(delay):
                return None
            delay = min(delay * 2, BACKOFF_MAX)
        return None

    def _configure(self, image: images.Image) -> tuple[dict[str, str], list[str]] | None:
        while not self.stopping.is_set():
            try:
                env = podspec.container_env(self.client, self.pod, self.container, self.address)
                mounts = podspec.materialise_volumes(self.client, self.pod, self.container, self.folder / "root")
                argv = podspec.command_line(self.container, env, mounts, self.address)
                env = {k: podspec.map_paths(v, mounts) for k, v in env.items()}
                path = f"{image.bin_dir}:{BASE_PATH}" if image.bin_dir else BASE_PATH
                full = {"PATH": path, "HOSTNAME": self.name, "LANG": "C.UTF-8", "HOME": str(self.folder / "root")}
                full.update(self.runtime.network.resolver_env(self.namespace))
                full.update(env)
                if image.bin_dir and "PATH" in env:
                    full["PATH"] = f"{image.bin_dir}:{env['PATH']}"
                self.env, self.mounts = full, mounts
                return full, argv
            except podspec.ConfigError as exc:
                self._waiting("CreateContainerConfigError", str(exc))
            if self.stopping.wait(2.0):
                return None
        return None

    def working_dir(self) -> Path:
        """The container's workingDir when the host has it, else the pod's root folder."""
        working_dir = self.container.get("workingDir")
        cwd = Path(podspec.map_paths(working_dir, {})) if working_dir and Path(working_dir).is_dir() \
            else self.folder / "root"
        cwd.mkdir(parents=True, exist_ok=True)
        return cwd

    def running(self) -> bool:
        """The container runs now (a process, not waiting to restart nor finished)."""
        return self.process is not None and self.process.poll() is None and "running" in self.state

    def _run_once(self, env: dict[str, str], argv: list[str]) -> int | None:
        """Run the container once; its exit code, or None when the pod is being stopped."""
        log = self.log_file
        cwd = self.working_dir()
        try:
            self.process = Process(f"pod {self.namespace}/{self.name}", argv, env, log, self.runtime.registry, cwd=cwd)
        except OSError as exc:
            self.state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": str(exc),
                                         "startedAt": stamp(), "finishedAt": stamp()}}
            self.publish()
            return 128
        began = time.monotonic()
        started_at = stamp()
        self.phase = "Running"
        self.state = {"running": {"startedAt": started_at}}
        spec = self.container
        startup = Probe(spec["startupProbe"], self.pod, self.address, env, began) if spec.get("startupProbe") else None
        readiness = Probe(spec["readinessProbe"], self.pod, self.address, env, began) \
            if spec.get("readinessProbe") else None
        liveness = Probe(spec["livenessProbe"], self.pod, self.address, env, began) if spec.get("livenessProbe") \
            else None
        self.started = startup is None
        self.ready = self.started and readiness is None
        # The kubelet sees a started container at its next relist (PLEG, every second): one that exits before is
        # never reported running, nor ready (pkg/kubelet/pleg/generic.go).
        while self.process.poll() is None and time.monotonic() - began < RELIST and not self.stopping.wait(0.05):
            pass
        if self.process.poll() is None:
            self.publish()
        killed_reason = ""
        while True:
            if self.stopping.is_set():
                self.process.stop(grace=self.grace)
                return None
            code = self.process.poll()
            if code is not None:
                break
            now = time.monotonic()
            changed = False
            if not self.started and startup is not None:
                verdict = startup.run(now)
                if verdict is True:
                    self.started, changed = True, True
                    if readiness is None:
                        self.ready = True
                    for probe in (readiness, liveness):
                        if probe is not None:
                            probe.next_at = max(probe.next_at, now)
                elif verdict is False:
                    killed_reason = f"Startup probe failed: {startup.last_message}"
            elif self.started:
                if readiness is not None:
                    verdict = readiness.run(now)
                    if verdict is not None and verdict != self.ready:
                        self.ready, changed = verdict, True
                if liveness is not None and liveness.run(now) is False:
                    killed_reason = f"Liveness probe failed: {liveness.last_message}"
            if killed_reason:
                LOG.info("pod %s/%s: %s; restarting the container", self.namespace, self.name, killed_reason)
                self.process.stop(grace=self.grace)
                code = self.process.poll()
                break
            if changed:
                self.publish()
            active = [p for p in (startup if not self.started else None, readiness if self.started else None,
                                  liveness if self.started else None) if p is not None]
            self.stopping.wait(wait_step(active))
        self.ready = False
        self.started = False
        self.process.stop(grace=1)  # what the container left behind (workers) goes with it
        code = code if code is not None else 137
        if code < 0:  # killed by a signal
            code = 128 - code
        reason = "Completed" if code == 0 else "Error"
        terminated = {"exitCode": code, "reason": reason, "startedAt": started_at, "finishedAt": stamp()}
        message = killed_reason or self._log_tail(800)  # read before the log is rotated
        if code != 0 and message:
            terminated["message"] = message
        self.state = {"terminated": terminated}
        # The terminated run's output becomes the "previous" log (the one served while the next run waits).
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_name(self.log_file.stem + ".previous.log"))
        self.publish()
        return code

    def _log_tail(self, chars: int) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, remove: bool = True) -> None:
        """Stop the container (SIGTERM, then SIGKILL after the grace period); remove the pod's folder."""
        self.stopping.set()
        process = self.process
        if process is not None:
            process.stop(grace=self.grace, first_signal=signal.SIGTERM)
        self.thread.join(timeout=self.grace + 15)
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.runtime.network.release_pod(self.uid)

    def kill(self) -> None:
        """Stop the process at once (a Job past its deadline); keep the pod's folder and logs."""
        self.stopping.set()
        if self.process is not None:
            self.process.stop(grace=1)
