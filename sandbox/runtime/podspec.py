"""From a Pod's spec to what a process needs: environment, files at mount paths, command line.

A pod sees its own filesystem; a sandbox process sees the host's. Each volume mount is therefore materialised
under the pod's folder (`<pod>/root/<mountPath>`), and any environment value or argument that names a path
under a mount point is rewritten to that folder: `MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/auth/basic-auth.ini`
becomes `<pod>/root/etc/mlflow/auth/basic-auth.ini`. Binding `0.0.0.0` (all of the pod's interfaces) becomes
binding the pod's own loopback address, so that several pods can listen on the same port.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The pod refers to configuration that is not there (CreateContainerConfigError)."""


# Where each source kind keeps base64 bytes and where plain text: (kind, base64 field, text field).
_SOURCES = {"secret": ("Secret", "data", "stringData"), "configmap": ("ConfigMap", "binaryData", "data")}


def _source_data(client: Any, source: str, namespace: str, name: str, optional: bool) -> dict[str, bytes] | None:
    kind, encoded, text = _SOURCES[source]
    obj = client.get("v1", kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{source} "{name}" not found')
    data = {k: base64.b64decode(v) for k, v in (obj.get(encoded) or {}).items()}
    data.update({k: v.encode() for k, v in (obj.get(text) or {}).items()})
    return data


def _secret_data(client: Any, namespace: str, name: str, optional: bool) -> dict[str, bytes] | None:
    return _source_data(client, "secret", namespace, name, optional)


def _config_map_data(client: Any, namespace: str, name: str, optional: bool) -> dict[str, bytes] | None:
    return _source_data(client, "configmap", namespace, name, optional)


def _field(pod: dict[str, Any], path: str, pod_ip: str) -> str:
    meta = pod.get("metadata") or {}
    simple = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "status.podIP": pod_ip, "status.hostIP": "127.0.0.1",
              "spec.nodeName": "sandbox", "spec.serviceAccountName":
              (pod.get("spec") or {}).get("serviceAccountName", "default")}
    if path in simple:
        return simple[path]
    found = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if found:
        return (meta.get(found.group(1)) or {}).get(found.group(2), "")
    raise ConfigError(f"fieldRef {path} is not supported by the sandbox")


def container_env(client: Any, pod: dict[str, Any], container: dict[str, Any], pod_ip: str) -> dict[str, str]:
    """The container's environment from envFrom and env (later entries win, `$(VAR)` expanded like kubelet)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            ref = source["secretRef"]
            data = _secret_data(client, namespace, ref["name"], ref.get("optional", False)) or {}
        else:
            ref = source.get("configMapRef") or {}
            data = _config_map_data(client, namespace, ref["name"], ref.get("optional", False)) or {}
        env.update({prefix + k: v.decode(errors="replace") for k, v in data.items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                               lambda m: env.get(m.group(1), m.group(0)), item.get("value", ""))
            continue
        source = item["valueFrom"]
        if "secretKeyRef" in source or "configMapKeyRef" in source:
            is_secret = "secretKeyRef" in source
            ref = source["secretKeyRef" if is_secret else "configMapKeyRef"]
            optional = ref.get("optional", False)
            reader = _secret_data if is_secret else _config_map_data
            data = reader(client, namespace, ref["name"], optional)
            if data is None:
                continue
            if ref["key"] not in data:
                if optional:
                    continue
                raise ConfigError(f"couldn't find key {ref['key']} in {'Secret' if is_secret else 'ConfigMap'} "
                                  f"{namespace}/{ref['name']}")
            env[name] = data[ref["key"]].decode(errors="replace")
        elif "fieldRef" in source:
            env[name] = _field(pod, source["fieldRef"]["fieldPath"], pod_ip)
        else:
            raise ConfigError(f"env {name}: only secretKeyRef, configMapKeyRef and fieldRef are supported")
    return env


def materialise_volumes(client: Any, pod: dict[str, Any], container: dict[str, Any], root: Path) -> dict[str, Path]:
    """Write the container's mounted volumes under `root`; return mountPath -> host folder (or file)."""
    namespace = pod["metadata"]["namespace"]
    volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise ConfigError(f"volume {mount['name']} is mounted but not declared")
        target = root / mount["mountPath"].lstrip("/")
        source = root.parent / "volumes" / mount["name"]
        if "emptyDir" in volume:
            source.mkdir(parents=True, exist_ok=True)
            source.chmod(0o1777)
        elif "secret" in volume or "configMap" in volume:
            spec = volume.get("secret") or volume.get("configMap") or {}
            if "secret" in volume:
                data = _secret_data(client, namespace, spec.get("secretName", ""), spec.get("optional", False))
            else:
                data = _config_map_data(client, namespace, spec.get("name", ""), spec.get("optional", False))
            _write_files(source, data or {}, spec.get("items"), spec.get("defaultMode", 0o644))
        else:
            raise ConfigError(f"volume {mount['name']}: the sandbox supports secret, configMap and emptyDir volumes")
        if mount.get("subPath"):
            source = source / mount["subPath"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        target.symlink_to(source)
        mounts[mount["mountPath"].rstrip("/") or "/"] = target
    return mounts


def _write_files(folder: Path, data: dict[str, bytes], items: list[dict[str, Any]] | None, mode: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {item["key"]: (item.get("path", item["key"]), item.get("mode", mode)) for item in items} if items \
        else {key: (key, mode) for key in data}
    for key, (path, file_mode) in wanted.items():
        if key not in data:
            raise ConfigError(f"key {key} is not in the volume's source")
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data[key])
        temporary.chmod(file_mode)
        os.replace(temporary, target)


def map_paths(value: str, mounts: dict[str, Path]) -> str:
    """`value` with a leading mount path replaced by its folder under the pod's root."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(mounts[mount_path]) + value[len(mount_path):]
        # --flag=/mount/path/...
        prefix, sep, rest = value.partition("=")
        if sep and (rest == mount_path or rest.startswith(mount_path + "/")) and prefix.startswith("-"):
            return f"{prefix}={mounts[mount_path]}{rest[len(mount_path):]}"
    return value


def bind_address(value: str, pod_ip: str) -> str:
    """0.0.0.0 (every interface of the pod) is the pod's own address here."""
    if value == "0.0.0.0":
        return pod_ip
    for flag in ("--host=", "-h=", "--bind=", "-b="):
        if value.startswith(flag + "0.0.0.0"):
            return flag + pod_ip + value[len(flag) + len("0.0.0.0"):]
    if value.startswith("0.0.0.0:"):
        return pod_ip + value[len("0.0.0.0"):]
    return value


def command_line(container: dict[str, Any], env: dict[str, str], mounts: dict[str, Path], pod_ip: str) -> list[str]:
    """command + args with `$(VAR)` expanded, mount paths mapped and 0.0.0.0 bound to the pod's address."""
    raw = list(container.get("command") or []) + list(container.get("args") or [])
    if not container.get("command"):
        raise ConfigError("the sandbox has no image entrypoints: the container needs a command")

    def expand(text: str) -> str:
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), text)
    return [bind_address(map_paths(expand(part), mounts), pod_ip) for part in raw]


def port_number(pod: dict[str, Any], port: Any) -> int:
    """A probe or Service targetPort: a number, or the name of a container port."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
    raise ConfigError(f"port {port!r} is not a declared container port")
