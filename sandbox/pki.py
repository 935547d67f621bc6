"""The sandbox's certificate authorities and serving certificates, made once per process (as kubeadm makes
/etc/kubernetes/pki/ca.crt and apiserver.crt):

- the cluster CA signs the certificate of the API server's TLS port; `sandbox up` puts it in the kubeconfig, and
  the root-ca-cert-publisher copies it into every namespace's `kube-root-ca.crt`;
- the S3 CA signs the certificate of the sandbox's S3 (runtime/s3.py). It is another CA on purpose: an object
  store's certificate comes from the company's or the vendor's CA, not from the cluster's, so trusting the cluster
  CA (which every pod can read) must not make the S3 trusted.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# kubeadm's apiserver certificate names: the in-cluster names and the loopback address the sandbox listens on.
SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local")
SERVER_ADDRESSES = ("127.0.0.1",)
_VALID = datetime.timedelta(days=3650)

Authority = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@functools.cache
def authority(common_name: str = "kubernetes") -> Authority:
    """The self-signed CA of that name, made once per process (`kubernetes`: the cluster CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    certificate = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + _VALID)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=True, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=True, crl_sign=False, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(key, hashes.SHA256()))
    return certificate, key


def ca_pem(common_name: str = "kubernetes") -> str:
    """A CA's certificate (PEM); by default the cluster CA's."""
    return authority(common_name)[0].public_bytes(serialization.Encoding.PEM).decode()


def write_serving_files(folder: Path, stem: str, subject: str, names: tuple[str, ...], addresses: tuple[str, ...],
                        ca_name: str = "kubernetes") -> tuple[Path, Path, Path]:
    """Write (ca.crt, <stem>.crt, <stem>.key) into `folder`: a server certificate for `names` and `addresses`
    signed by the CA `ca_name`. The CA and the certificate are readable by all (the `postgres` user reads a CA
    bundle), the key is 0600."""
    issuer, issuer_key = authority(ca_name)
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    alternative = [x509.DNSName(name) for name in names]
    alternative += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    certificate = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + _VALID)
                   .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(issuer_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = folder / "ca.crt", folder / f"{stem}.crt", folder / f"{stem}.key"
    ca_file.write_text(ca_pem(ca_name), encoding="utf-8")
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.unlink(missing_ok=True)  # O_CREAT keeps the mode of a file left by an earlier run
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(_pem(key))
    return ca_file, cert_file, key_file


def write_server_files(folder: Path) -> tuple[Path, Path, Path]:
    """Write (ca.crt, apiserver.crt, apiserver.key) of the API server's TLS port into `folder`."""
    return write_serving_files(folder, "apiserver", "kube-apiserver", SERVER_NAMES, SERVER_ADDRESSES)
