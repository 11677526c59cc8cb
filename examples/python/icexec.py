"""icexec.py -- a ctypes binding of libicexec (include/icexec.h) in one module.

No compilation step: the module loads the shared library at import time,
from the path in the environment variable ICEXEC_LIB if set, else from the
build directory of this source tree (../../build/libicexec.so), else
through the system's loader (libicexec.so.0, e.g. after `make install`).

Covered: engine options, subnet states (new, hash, round, save, load),
batches (ingress, canister creation, install_code, canister operations,
management calls, checkpoint flag), icx_execute_round and its outputs,
snapshots and queries, principals, and compiling and calling plain Wasm
modules.  Every fallible call raises IcxError (status code, name and the
engine's error message).  Round outputs and query results are copied into
Python objects at once, so nothing refers to library memory afterwards.

Handles are freed by close() (or a with-block), or when garbage collected;
closing an engine closes everything made with it first.  An engine and
everything made with it must be used from one thread at a time (queries
on a Snapshot may run on several threads).

    import icexec
    with icexec.Engine() as engine:
        state = engine.new_state()
        ...

See demo.py next to this file for a complete program.
"""

import ctypes
import ctypes.util
import os
import struct
import weakref

__all__ = [
    "IcxError", "Principal", "MessageId", "Engine", "State", "Batch", "RoundOutput",
    "IngressResult", "XnetMessage", "CanisterStats", "Snapshot", "QueryResult", "Module",
    "Instance", "CallResult", "library", "library_path", "version", "reply_canister_id",
]

# ---- constants (values fixed by the header) ---------------------------------

HEADER_VERSION = 1000  # ICX_VERSION_NUMBER of the header this module follows (0.1.0)

OK, ENOMEM, EMISUSE, EINVAL, EMALFORMED, EINVALID, EREJECTED, ENOTFOUND = range(8)
ESTATE, ELIMIT, ECORRUPT, EVERSION, EINTERNAL, EUNLINKABLE, ETRAP, EIO = range(8, 16)
STATUS_NAMES = [
    "ICX_OK", "ICX_ENOMEM", "ICX_EMISUSE", "ICX_EINVAL", "ICX_EMALFORMED", "ICX_EINVALID",
    "ICX_EREJECTED", "ICX_ENOTFOUND", "ICX_ESTATE", "ICX_ELIMIT", "ICX_ECORRUPT",
    "ICX_EVERSION", "ICX_EINTERNAL", "ICX_EUNLINKABLE", "ICX_ETRAP", "ICX_EIO",
]

SUBNET_APPLICATION, SUBNET_SYSTEM, SUBNET_VERIFIED_APPLICATION = 0, 1, 2
MODE_INSTALL, MODE_REINSTALL, MODE_UPGRADE = 0, 1, 2
INGRESS_REPLIED, INGRESS_REJECTED = 1, 2
XNET_REQUEST, XNET_RESPONSE = 1, 2
REJECT_SYS_FATAL, REJECT_SYS_TRANSIENT, REJECT_DESTINATION_INVALID = 1, 2, 3
REJECT_CANISTER_REJECT, REJECT_CANISTER_ERROR, REJECT_SYS_UNKNOWN = 4, 5, 6
TYPE_I32, TYPE_I64, TYPE_F32, TYPE_F64 = 0x7F, 0x7E, 0x7D, 0x7C
MODULE_METER = 0x1
PRINCIPAL_MAX_BYTES = 29
MEMORY_PERSISTENCE_UNSET, MEMORY_PERSISTENCE_KEEP, MEMORY_PERSISTENCE_REPLACE = 0, 1, 2
PRINCIPAL_TEXT_MAX = 63

# ---- C structures (include/icexec.h; ctypes lays them out as the C compiler) ----

_realloc_fn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_size_t, ctypes.c_size_t)


class c_principal(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint8), ("bytes", ctypes.c_uint8 * PRINCIPAL_MAX_BYTES)]


_debug_print_fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(c_principal),
                                   ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
_verify_sig_fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8),
                                  ctypes.c_size_t, ctypes.c_uint64,
                                  ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)


class c_engine_opts(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("header_version", ctypes.c_uint32),
        ("realloc_fn", _realloc_fn),
        ("realloc_ud", ctypes.c_void_p),
        ("subnet_type", ctypes.c_uint32),
        ("subnet_size", ctypes.c_uint32),
        ("max_instructions_message", ctypes.c_uint64),
        ("max_instructions_slice", ctypes.c_uint64),
        ("max_instructions_install", ctypes.c_uint64),
        ("max_instructions_install_slice", ctypes.c_uint64),
        ("max_instructions_query", ctypes.c_uint64),
        ("max_instructions_round", ctypes.c_uint64),
        ("threads", ctypes.c_uint32),
        ("scheduler_cores", ctypes.c_uint32),
        ("debug_print", _debug_print_fn),
        ("debug_print_ud", ctypes.c_void_p),
        ("verify_random_sig", _verify_sig_fn),
        ("verify_random_sig_ud", ctypes.c_void_p),
        ("subnet_public_key", ctypes.POINTER(ctypes.c_uint8)),
        ("subnet_public_key_len", ctypes.c_size_t),
    ]


class c_message_id(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_uint8 * 32)]


class c_ingress_result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("status", ctypes.c_uint32),
        ("id", c_message_id),
        ("reject_code", ctypes.c_uint32),
        ("error_code", ctypes.c_uint32),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
    ]


class c_xnet_message(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("src", c_principal),
        ("dst", c_principal),
        ("method", ctypes.c_char_p),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("cycles_hi", ctypes.c_uint64),
        ("cycles_lo", ctypes.c_uint64),
        ("callback", ctypes.c_uint64),
        ("reject_code", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("deadline_ns", ctypes.c_uint64),
    ]


class c_canister_round_stats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("executions", ctypes.c_uint32),
        ("canister", c_principal),
        ("instructions", ctypes.c_uint64),
        ("cycles_hi", ctypes.c_uint64),
        ("cycles_lo", ctypes.c_uint64),
    ]


class c_install_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("skip_pre_upgrade", ctypes.c_int32),
        ("wasm_memory_persistence", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


class c_query_result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("status", ctypes.c_uint32),
        ("reject_code", ctypes.c_uint32),
        ("error_code", ctypes.c_uint32),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("instructions", ctypes.c_uint64),
        ("internal_", ctypes.c_void_p),
    ]


class c_value(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("bits", ctypes.c_uint64)]


class c_call_result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("trapped", ctypes.c_uint32),
        ("trap_code", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
        ("instructions", ctypes.c_uint64),
        ("trap_message", ctypes.c_char_p),
    ]


# ---- loading the library ------------------------------------------------------

def _find_library():
    env = os.environ.get("ICEXEC_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(here, "..", "..", "build", "libicexec.so")
    if os.path.exists(local):
        return os.path.normpath(local)
    return ctypes.util.find_library("icexec") or "libicexec.so.0"


_P = ctypes.c_void_p
_u8p = ctypes.POINTER(ctypes.c_uint8)
_st = ctypes.c_int32
_pp = ctypes.POINTER(c_principal)
_mid = ctypes.POINTER(c_message_id)
_u64, _u32, _i32, _sz = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int32, ctypes.c_size_t

# name: (restype, argtypes).  The query functions are optional (a library
# without them raises IcxError on Snapshot use, nothing else changes).
_PROTOS = {
    "icx_strerror": (ctypes.c_char_p, [_st]),
    "icx_status_count": (_i32, []),
    "icx_version_number": (_i32, []),
    "icx_version_string": (ctypes.c_char_p, []),
    "icx_engine_opts_init": (None, [ctypes.POINTER(c_engine_opts)]),
    "icx_engine_new": (_st, [ctypes.POINTER(c_engine_opts), ctypes.POINTER(_P)]),
    "icx_engine_free": (None, [_P]),
    "icx_errmsg": (ctypes.c_char_p, [_P]),
    "icx_module_new": (_st, [_P, _u8p, _sz, _u32, ctypes.POINTER(_P)]),
    "icx_module_new_wat": (_st, [_P, ctypes.c_char_p, _sz, _u32, ctypes.POINTER(_P)]),
    "icx_module_free": (None, [_P]),
    "icx_module_export_type": (_st, [_P, ctypes.c_char_p, ctypes.POINTER(_u32), _sz,
                                     ctypes.POINTER(_u32), ctypes.POINTER(_u32)]),
    "icx_instance_new": (_st, [_P, _P, ctypes.POINTER(_P)]),
    "icx_instance_free": (None, [_P]),
    "icx_instance_call": (_st, [_P, ctypes.c_char_p, ctypes.POINTER(c_value), _sz,
                                ctypes.POINTER(c_value), _sz, ctypes.POINTER(c_call_result)]),
    "icx_instance_set_instruction_limit": (_st, [_P, _u64]),
    "icx_principal_from_bytes": (_st, [_u8p, _sz, _pp]),
    "icx_principal_from_text": (_st, [ctypes.c_char_p, _sz, _pp]),
    "icx_principal_to_text": (_sz, [_pp, ctypes.c_char_p, _sz]),
    "icx_principal_management": (_st, [_pp]),
    "icx_principal_anonymous": (_st, [_pp]),
    "icx_principal_from_canister_index": (_st, [_u64, _pp]),
    "icx_principal_canister_index": (_st, [_pp, ctypes.POINTER(_u64)]),
    "icx_principal_self_authenticating": (_st, [_u8p, _sz, _pp]),
    "icx_principal_compare": (_i32, [_pp, _pp]),
    "icx_state_new": (_st, [_P, ctypes.POINTER(_P)]),
    "icx_state_free": (None, [_P]),
    "icx_state_hash": (_st, [_P, _u8p]),
    "icx_state_round": (_u64, [_P]),
    "icx_state_canister_count": (_u64, [_P]),
    "icx_state_save": (_st, [_P, ctypes.c_char_p]),
    "icx_state_load": (_st, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    "icx_batch_new": (_st, [_P, _u64, _u64, _u8p, _sz, ctypes.POINTER(_P)]),
    "icx_batch_free": (None, [_P]),
    "icx_batch_set_checkpoint": (_st, [_P, _i32]),
    "icx_batch_add_ingress": (_st, [_P, _pp, _pp, ctypes.c_char_p, _u8p, _sz, _mid]),
    "icx_batch_ingress_count": (_u64, [_P]),
    "icx_batch_add_management": (_st, [_P, _pp, ctypes.c_char_p, _u8p, _sz, _mid]),
    "icx_batch_add_create_canister": (_st, [_P, _pp, _u64, _u64, _pp, _mid]),
    "icx_batch_add_install_code": (_st, [_P, _pp, _pp, _i32, _u8p, _sz, _u8p, _sz, _mid]),
    "icx_batch_add_install_code_opts": (_st, [_P, _pp, _pp, _i32, _u8p, _sz, _u8p, _sz,
                                              ctypes.POINTER(c_install_options), _mid]),
    "icx_batch_add_canister_op": (_st, [_P, _pp, ctypes.c_char_p, _pp, _mid]),
    "icx_reply_canister_id": (_st, [_u8p, _sz, _pp]),
    "icx_execute_round": (_st, [_P, _P, _P, ctypes.POINTER(_P)]),
    "icx_round_output_free": (None, [_P]),
    "icx_round_output_ingress_count": (_u64, [_P]),
    "icx_round_output_xnet_count": (_u64, [_P]),
    "icx_round_output_canister_count": (_u64, [_P]),
    "icx_round_output_ingress": (_st, [_P, _u64, ctypes.POINTER(c_ingress_result)]),
    "icx_round_output_xnet": (_st, [_P, _u64, ctypes.POINTER(c_xnet_message)]),
    "icx_round_output_canister": (_st, [_P, _u64, ctypes.POINTER(c_canister_round_stats)]),
    "icx_round_output_find_ingress": (_st, [_P, _mid, ctypes.POINTER(c_ingress_result)]),
    "icx_round_output_instructions": (_u64, [_P]),
    "icx_round_output_state_hash": (_st, [_P, _u8p]),
    "icx_batch_add_xnet": (_st, [_P, ctypes.POINTER(c_xnet_message)]),
    "icx_batch_xnet_count": (_u64, [_P]),
    "icx_state_snapshot": (_st, [_P, ctypes.POINTER(_P)]),
    "icx_snapshot_free": (None, [_P]),
    "icx_snapshot_round": (_u64, [_P]),
    "icx_query": (_st, [_P, _pp, _pp, ctypes.c_char_p, _u8p, _sz,
                        ctypes.POINTER(c_query_result)]),
    "icx_query_result_clear": (None, [ctypes.POINTER(c_query_result)]),
}
_OPTIONAL = {"icx_batch_add_xnet", "icx_batch_xnet_count", "icx_state_snapshot",
             "icx_snapshot_free", "icx_snapshot_round", "icx_query", "icx_query_result_clear"}


class _Lib:
    """The loaded library with prototypes set; missing optional functions are None."""

    def __init__(self, path):
        self.path = path
        self.dll = ctypes.CDLL(path)
        self.missing = []
        for name, (restype, argtypes) in _PROTOS.items():
            try:
                fn = getattr(self.dll, name)
            except AttributeError:
                if name not in _OPTIONAL:
                    raise OSError("%s: %s lacks %s" % (path, os.path.basename(path), name))
                self.missing.append(name)
                setattr(self, name[4:], None)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name[4:], fn)  # lib.engine_new for icx_engine_new
        v = self.version_number()
        if v // 1000000 != HEADER_VERSION // 1000000 or v < HEADER_VERSION:
            raise OSError("%s is version %s; this binding needs %d.%d or a later %d.x" %
                          (path, self.version_string().decode(), HEADER_VERSION // 1000000,
                           HEADER_VERSION // 1000 % 1000, HEADER_VERSION // 1000000))


library_path = _find_library()
try:
    _lib = _Lib(library_path)
except OSError as exc:
    raise ImportError("icexec: cannot load libicexec (%s); set ICEXEC_LIB to the path of "
                      "libicexec.so" % exc) from exc


def library():
    """The loaded _Lib (lib.dll is the ctypes.CDLL; lib.missing the absent optional functions)."""
    return _lib


def version():
    """The version string of the loaded library, e.g. "0.1.0"."""
    return _lib.version_string().decode()


# ---- errors -------------------------------------------------------------------

class IcxError(Exception):
    """A failed call: status (ICX_* code), name ("ICX_EINVAL") and message."""

    def __init__(self, status, message, function=""):
        self.status = status
        self.name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.message = message
        self.function = function
        text = _lib.strerror(status).decode()
        super().__init__("%s%s (%s)%s" % (function + ": " if function else "", text, self.name,
                                          ": " + message if message else ""))


def _check(status, engine_handle, function):
    if status != OK:
        msg = _lib.errmsg(engine_handle).decode("utf-8", "replace") if engine_handle else ""
        raise IcxError(status, msg, function)


def _buf(data):
    """(array, length) for bytes-like data, the array a copy that the caller
    keeps alive during the call (None and b"" give NULL, 0)."""
    if data is None:
        return None, 0
    if isinstance(data, str):
        raise TypeError("bytes expected, not str")
    data = bytes(data)
    if not data:
        return None, 0
    return (ctypes.c_uint8 * len(data)).from_buffer_copy(data), len(data)


def _bytes(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


def _split128(cycles):
    if not 0 <= cycles < 1 << 128:
        raise ValueError("cycles out of range: %r" % (cycles,))
    return cycles >> 64, cycles & (1 << 64) - 1


# ---- principals -----------------------------------------------------------------

class Principal:
    """An IC principal (0..29 bytes); immutable, hashable, ordered as the library orders."""

    __slots__ = ("_bytes",)

    def __init__(self, raw=b""):
        raw = bytes(raw)
        if len(raw) > PRINCIPAL_MAX_BYTES:
            raise ValueError("a principal has at most 29 bytes, not %d" % len(raw))
        self._bytes = raw

    @classmethod
    def _from_c(cls, p):
        return cls(bytes(p.bytes[:p.len]))

    def _c(self):
        p = c_principal()
        ptr, n = _buf(self._bytes)
        _check(_lib.principal_from_bytes(ptr, n, ctypes.byref(p)), None,
               "icx_principal_from_bytes")
        return p

    @classmethod
    def from_text(cls, text):
        p = c_principal()
        raw = text.encode() if isinstance(text, str) else bytes(text)
        _check(_lib.principal_from_text(raw, len(raw), ctypes.byref(p)), None,
               "icx_principal_from_text(%r)" % (text,))
        return cls._from_c(p)

    @classmethod
    def management(cls):
        return cls(b"")

    @classmethod
    def anonymous(cls):
        p = c_principal()
        _check(_lib.principal_anonymous(ctypes.byref(p)), None, "icx_principal_anonymous")
        return cls._from_c(p)

    @classmethod
    def from_canister_index(cls, index):
        p = c_principal()
        _check(_lib.principal_from_canister_index(index, ctypes.byref(p)), None,
               "icx_principal_from_canister_index")
        return cls._from_c(p)

    @classmethod
    def self_authenticating(cls, der_key):
        p = c_principal()
        ptr, n = _buf(der_key)
        _check(_lib.principal_self_authenticating(ptr, n, ctypes.byref(p)), None,
               "icx_principal_self_authenticating")
        return cls._from_c(p)

    @property
    def bytes(self):
        return self._bytes

    @property
    def canister_index(self):
        """The canister index of a canister id; ValueError for other principals."""
        v = _u64()
        if _lib.principal_canister_index(ctypes.byref(self._c()), ctypes.byref(v)) != OK:
            raise ValueError("%s is not a canister id of the index layout" % self)
        return v.value

    @property
    def text(self):
        buf = ctypes.create_string_buffer(PRINCIPAL_TEXT_MAX + 1)
        _lib.principal_to_text(ctypes.byref(self._c()), buf, len(buf))
        return buf.value.decode()

    def __str__(self):
        return self.text

    def __repr__(self):
        return "Principal(%r)" % self.text

    def __eq__(self, other):
        return isinstance(other, Principal) and self._bytes == other._bytes

    def __hash__(self):
        return hash(self._bytes)

    def __lt__(self, other):
        return _lib.principal_compare(ctypes.byref(self._c()), ctypes.byref(other._c())) < 0


def _principal(p):
    """Principal, text or bytes -> c_principal."""
    if isinstance(p, Principal):
        return p._c()
    if isinstance(p, str):
        return Principal.from_text(p)._c()
    return Principal(p)._c()


def reply_canister_id(reply):
    """The canister id in a Candid reply record { canister_id } (canister creation)."""
    p = c_principal()
    ptr, n = _buf(reply)
    _check(_lib.reply_canister_id(ptr, n, ctypes.byref(p)), None, "icx_reply_canister_id")
    return Principal._from_c(p)


class MessageId(bytes):
    """A 32-byte ingress message id."""

    def __repr__(self):
        return "MessageId(%s)" % self.hex()


# ---- handles ------------------------------------------------------------------------

class _Handle:
    """A library handle owned by an engine: freed by close(), with-blocks,
    garbage collection, or (first) by the engine's close()."""

    _free = None  # name of the _Lib function that frees the handle

    def __init__(self, engine, handle):
        self._engine = engine
        self._h = handle
        engine._children.add(self)

    def _handle(self):
        if not self._h:
            raise IcxError(EMISUSE, "%s is closed" % type(self).__name__)
        return self._h

    def close(self):
        # After icx_engine_free the handle is gone already (freed with the
        # engine): only drop it.
        if self._h and self._engine._h:
            getattr(_lib, self._free)(self._h)
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


class Engine:
    """An engine with its subnet configuration.

    Keyword options (icx_engine_opts; 0 or absent = the default):
    subnet_type (SUBNET_*), subnet_size, max_instructions_message,
    max_instructions_slice, max_instructions_install,
    max_instructions_install_slice, max_instructions_query,
    max_instructions_round, threads, scheduler_cores, debug_print (a
    callable(canister: Principal, message: bytes)), verify_random_sig (a
    callable(public_key: bytes, round: int, sig: bytes) -> bool) with
    subnet_public_key (bytes)."""

    _INT_OPTS = ("subnet_type", "subnet_size", "max_instructions_message",
                 "max_instructions_slice", "max_instructions_install",
                 "max_instructions_install_slice", "max_instructions_query",
                 "max_instructions_round", "threads", "scheduler_cores")

    def __init__(self, debug_print=None, verify_random_sig=None, subnet_public_key=None,
                 **opts):
        self._h = None
        self._children = weakref.WeakSet()
        o = c_engine_opts()
        _lib.engine_opts_init(ctypes.byref(o))
        if o.struct_size != ctypes.sizeof(c_engine_opts):
            raise IcxError(EVERSION, "icx_engine_opts is %d bytes in the library, %d here" %
                           (o.struct_size, ctypes.sizeof(c_engine_opts)))
        o.header_version = HEADER_VERSION
        for k, v in opts.items():
            if k not in self._INT_OPTS:
                raise TypeError("Engine: unknown option %r" % k)
            setattr(o, k, v)
        # The callbacks must live as long as the engine.
        self._debug_cb = self._verify_cb = None
        if debug_print is not None:
            def _dp(_ud, canister, msg, n):
                debug_print(Principal._from_c(canister.contents), _bytes(msg, n))
            self._debug_cb = _debug_print_fn(_dp)
            o.debug_print = self._debug_cb
        if verify_random_sig is not None:
            def _vs(_ud, key, key_len, rnd, sig, sig_len):
                try:
                    return 1 if verify_random_sig(_bytes(key, key_len), rnd,
                                                  _bytes(sig, sig_len)) else 0
                except Exception:
                    return 0
            self._verify_cb = _verify_sig_fn(_vs)
            o.verify_random_sig = self._verify_cb
        key_ptr, key_len = _buf(subnet_public_key)
        self._key = subnet_public_key  # keeps key_ptr valid during icx_engine_new
        o.subnet_public_key = key_ptr
        o.subnet_public_key_len = key_len
        h = _P()
        _check(_lib.engine_new(ctypes.byref(o), ctypes.byref(h)), None, "icx_engine_new")
        self._h = h.value

    def _handle(self):
        if not self._h:
            raise IcxError(EMISUSE, "the engine is closed")
        return self._h

    def close(self):
        """Free the engine and everything made with it."""
        if self._h:
            for child in list(self._children):
                child.close()
            _lib.engine_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def errmsg(self):
        return _lib.errmsg(self._h).decode("utf-8", "replace") if self._h else ""

    def _out(self, status, function):
        _check(status, self._handle(), function)

    # states
    def new_state(self):
        h = _P()
        self._out(_lib.state_new(self._handle(), ctypes.byref(h)), "icx_state_new")
        return State(self, h.value)

    def load_state(self, directory):
        h = _P()
        self._out(_lib.state_load(self._handle(), os.fsencode(directory), ctypes.byref(h)),
                  "icx_state_load")
        return State(self, h.value)

    # batches and rounds
    def new_batch(self, round, time_ns, random_sig=b""):
        h = _P()
        ptr, n = _buf(random_sig)
        self._out(_lib.batch_new(self._handle(), round, time_ns, ptr, n, ctypes.byref(h)),
                  "icx_batch_new")
        return Batch(self, h.value)

    def execute_round(self, state, batch):
        """Execute batch on state; the output, copied into a RoundOutput."""
        h = _P()
        self._out(_lib.execute_round(self._handle(), state._handle(), batch._handle(),
                                     ctypes.byref(h)), "icx_execute_round")
        try:
            return RoundOutput._read(self, h.value)
        finally:
            _lib.round_output_free(h.value)

    # plain Wasm modules
    def module(self, wasm, meter=False):
        h = _P()
        ptr, n = _buf(wasm)
        self._out(_lib.module_new(self._handle(), ptr, n, MODULE_METER if meter else 0,
                                  ctypes.byref(h)), "icx_module_new")
        return Module(self, h.value)

    def module_wat(self, text, meter=False):
        h = _P()
        raw = text.encode() if isinstance(text, str) else bytes(text)
        self._out(_lib.module_new_wat(self._handle(), raw, len(raw),
                                      MODULE_METER if meter else 0, ctypes.byref(h)),
                  "icx_module_new_wat")
        return Module(self, h.value)


class State(_Handle):
    """A subnet state: canisters, queues, round number."""

    _free = "state_free"

    def hash(self):
        out = (ctypes.c_uint8 * 32)()
        self._engine._out(_lib.state_hash(self._handle(), out), "icx_state_hash")
        return bytes(out)

    @property
    def round(self):
        return _lib.state_round(self._handle())

    @property
    def canister_count(self):
        return _lib.state_canister_count(self._handle())

    def save(self, directory):
        self._engine._out(_lib.state_save(self._handle(), os.fsencode(directory)),
                          "icx_state_save")

    def execute(self, batch):
        return self._engine.execute_round(self, batch)

    def snapshot(self):
        if _lib.state_snapshot is None:
            raise IcxError(ENOTFOUND, "the library has no icx_state_snapshot", "snapshot")
        h = _P()
        self._engine._out(_lib.state_snapshot(self._handle(), ctypes.byref(h)),
                          "icx_state_snapshot")
        return Snapshot(self._engine, h.value)


class Batch(_Handle):
    """One round's inputs.  The add_* methods return the MessageId."""

    _free = "batch_free"

    def _add(self, status, function, mid):
        self._engine._out(status, function)
        return MessageId(bytes(mid.bytes))

    def set_checkpoint(self, checkpoint=True):
        self._engine._out(_lib.batch_set_checkpoint(self._handle(), 1 if checkpoint else 0),
                          "icx_batch_set_checkpoint")

    def add_ingress(self, sender, canister, method, arg=b""):
        mid = c_message_id()
        ptr, n = _buf(arg)
        return self._add(_lib.batch_add_ingress(self._handle(), ctypes.byref(_principal(sender)),
                                                ctypes.byref(_principal(canister)),
                                                method.encode(), ptr, n, ctypes.byref(mid)),
                         "icx_batch_add_ingress", mid)

    def add_management(self, sender, method, candid=b""):
        mid = c_message_id()
        ptr, n = _buf(candid)
        return self._add(_lib.batch_add_management(self._handle(),
                                                   ctypes.byref(_principal(sender)),
                                                   method.encode(), ptr, n, ctypes.byref(mid)),
                         "icx_batch_add_management", mid)

    def add_create_canister(self, sender, cycles=10 ** 13, specified_id=None):
        mid = c_message_id()
        hi, lo = _split128(cycles)
        spec = ctypes.byref(_principal(specified_id)) if specified_id is not None else None
        return self._add(_lib.batch_add_create_canister(self._handle(),
                                                        ctypes.byref(_principal(sender)), hi, lo,
                                                        spec, ctypes.byref(mid)),
                         "icx_batch_add_create_canister", mid)

    def add_install_code(self, sender, canister, wasm, arg=b"", mode=MODE_INSTALL,
                         skip_pre_upgrade=False, wasm_memory_persistence=None):
        """install_code; for mode MODE_UPGRADE the upgrade options may be given:
        skip_pre_upgrade (bool) and wasm_memory_persistence ("keep", "replace" or None)."""
        mid = c_message_id()
        wptr, wn = _buf(wasm)
        aptr, an = _buf(arg)
        opts = c_install_options()
        opts.struct_size = ctypes.sizeof(c_install_options)
        opts.skip_pre_upgrade = 1 if skip_pre_upgrade else 0
        opts.wasm_memory_persistence = {None: MEMORY_PERSISTENCE_UNSET,
                                        "keep": MEMORY_PERSISTENCE_KEEP,
                                        "replace": MEMORY_PERSISTENCE_REPLACE}[wasm_memory_persistence]
        return self._add(_lib.batch_add_install_code_opts(self._handle(),
                                                          ctypes.byref(_principal(sender)),
                                                          ctypes.byref(_principal(canister)), mode,
                                                          wptr, wn, aptr, an, ctypes.byref(opts),
                                                          ctypes.byref(mid)),
                         "icx_batch_add_install_code_opts", mid)

    def add_canister_op(self, sender, method, canister):
        """start_canister, stop_canister, delete_canister, canister_status, uninstall_code."""
        mid = c_message_id()
        return self._add(_lib.batch_add_canister_op(self._handle(),
                                                    ctypes.byref(_principal(sender)),
                                                    method.encode(),
                                                    ctypes.byref(_principal(canister)),
                                                    ctypes.byref(mid)),
                         "icx_batch_add_canister_op", mid)

    @property
    def ingress_count(self):
        return _lib.batch_ingress_count(self._handle())


class IngressResult:
    """The final status of an ingress message (copied out of the round output)."""

    __slots__ = ("id", "status", "reject_code", "error_code", "data")

    def __init__(self, c):
        self.id = MessageId(bytes(c.id.bytes))
        self.status = c.status
        self.reject_code = c.reject_code
        self.error_code = c.error_code
        self.data = _bytes(c.data, c.len)

    @property
    def replied(self):
        return self.status == INGRESS_REPLIED

    @property
    def reply(self):
        """The reply bytes; IcxError(EREJECTED) with the reject message if rejected."""
        if not self.replied:
            raise IcxError(EREJECTED, "rejected (code %d, IC%04d): %s" %
                           (self.reject_code, self.error_code, self.reject_message))
        return self.data

    @property
    def reject_message(self):
        return "" if self.replied else self.data.decode("utf-8", "replace")

    def __repr__(self):
        if self.replied:
            return "IngressResult(replied, %r)" % (self.data,)
        return "IngressResult(rejected %d IC%04d %r)" % (self.reject_code, self.error_code,
                                                        self.reject_message)


class XnetMessage:
    """A message for another subnet (kind XNET_REQUEST or XNET_RESPONSE)."""

    __slots__ = ("kind", "src", "dst", "method", "data", "cycles", "callback", "reject_code",
                 "deadline_ns")

    def __init__(self, c):
        self.kind = c.kind
        self.src = Principal._from_c(c.src)
        self.dst = Principal._from_c(c.dst)
        self.method = (c.method or b"").decode("utf-8", "replace")
        self.data = _bytes(c.data, c.len)
        self.cycles = c.cycles_hi << 64 | c.cycles_lo
        self.callback = c.callback
        self.reject_code = c.reject_code
        self.deadline_ns = c.deadline_ns


class CanisterStats:
    """What one canister used in a round."""

    __slots__ = ("canister", "executions", "instructions", "cycles")

    def __init__(self, c):
        self.canister = Principal._from_c(c.canister)
        self.executions = c.executions
        self.instructions = c.instructions
        self.cycles = c.cycles_hi << 64 | c.cycles_lo


class RoundOutput:
    """A round's output: ingress (list of IngressResult, completion order),
    xnet (list of XnetMessage), canisters (list of CanisterStats, id
    order), instructions, state_hash (32 bytes)."""

    def __init__(self, ingress, xnet, canisters, instructions, state_hash):
        self.ingress = ingress
        self.xnet = xnet
        self.canisters = canisters
        self.instructions = instructions
        self.state_hash = state_hash
        self._by_id = {r.id: r for r in ingress}

    @classmethod
    def _read(cls, engine, h):
        def items(count_fn, item_fn, ctype, wrap, function):
            out = []
            for i in range(count_fn(h)):
                c = ctype()
                c.struct_size = ctypes.sizeof(ctype)
                engine._out(item_fn(h, i, ctypes.byref(c)), function)
                out.append(wrap(c))
            return out
        ingress = items(_lib.round_output_ingress_count, _lib.round_output_ingress,
                        c_ingress_result, IngressResult, "icx_round_output_ingress")
        xnet = items(_lib.round_output_xnet_count, _lib.round_output_xnet, c_xnet_message,
                     XnetMessage, "icx_round_output_xnet")
        canisters = items(_lib.round_output_canister_count, _lib.round_output_canister,
                          c_canister_round_stats, CanisterStats, "icx_round_output_canister")
        hsh = (ctypes.c_uint8 * 32)()
        engine._out(_lib.round_output_state_hash(h, hsh), "icx_round_output_state_hash")
        return cls(ingress, xnet, canisters, _lib.round_output_instructions(h), bytes(hsh))

    def find_ingress(self, message_id):
        """The IngressResult of message_id, or None if it did not complete in this round."""
        return self._by_id.get(bytes(message_id))

    def __getitem__(self, message_id):
        r = self.find_ingress(message_id)
        if r is None:
            raise KeyError(message_id)
        return r


class QueryResult:
    """The result of a query: status, reject_code, error_code, data, instructions."""

    __slots__ = ("status", "reject_code", "error_code", "data", "instructions")

    def __init__(self, c):
        self.status = c.status
        self.reject_code = c.reject_code
        self.error_code = c.error_code
        self.data = _bytes(c.data, c.len)
        self.instructions = c.instructions

    replied = IngressResult.replied
    reply = IngressResult.reply
    reject_message = IngressResult.reject_message

    def __repr__(self):
        return IngressResult.__repr__(self).replace("IngressResult", "QueryResult")


class Snapshot(_Handle):
    """A read-only snapshot of a state; query() may run on several threads."""

    _free = "snapshot_free"

    @property
    def round(self):
        return _lib.snapshot_round(self._handle())

    def query(self, sender, canister, method, arg=b""):
        c = c_query_result()
        c.struct_size = ctypes.sizeof(c_query_result)
        ptr, n = _buf(arg)
        status = _lib.query(self._handle(), ctypes.byref(_principal(sender)),
                            ctypes.byref(_principal(canister)), method.encode(), ptr, n,
                            ctypes.byref(c))
        try:
            if status != OK:  # icx_query does not set the engine's message
                raise IcxError(status, "", "icx_query")
            return QueryResult(c)
        finally:
            _lib.query_result_clear(ctypes.byref(c))


# ---- plain modules ------------------------------------------------------------------

_TYPE_NAMES = {TYPE_I32: "i32", TYPE_I64: "i64", TYPE_F32: "f32", TYPE_F64: "f64"}


class CallResult:
    """icx_instance_call's outcome: results (Python ints/floats), trapped,
    trap_code, trap_message, instructions."""

    __slots__ = ("results", "trapped", "trap_code", "trap_message", "instructions")

    def __init__(self, results, c):
        self.results = results
        self.trapped = bool(c.trapped)
        self.trap_code = c.trap_code
        self.trap_message = (c.trap_message or b"").decode("utf-8", "replace")
        self.instructions = c.instructions


def _to_value(t, x):
    v = c_value()
    v.type = t
    if t == TYPE_I32:
        v.bits = int(x) & 0xFFFFFFFF
    elif t == TYPE_I64:
        v.bits = int(x) & 0xFFFFFFFFFFFFFFFF
    elif t == TYPE_F32:
        v.bits = struct.unpack("<I", struct.pack("<f", float(x)))[0]
    elif t == TYPE_F64:
        v.bits = struct.unpack("<Q", struct.pack("<d", float(x)))[0]
    else:
        raise TypeError("parameters of type 0x%x are not supported here" % t)
    return v


def _from_value(v):
    if v.type == TYPE_I32:
        b = v.bits & 0xFFFFFFFF
        return b - (1 << 32) if b >> 31 else b
    if v.type == TYPE_I64:
        b = v.bits
        return b - (1 << 64) if b >> 63 else b
    if v.type == TYPE_F32:
        return struct.unpack("<f", struct.pack("<I", v.bits & 0xFFFFFFFF))[0]
    if v.type == TYPE_F64:
        return struct.unpack("<d", struct.pack("<Q", v.bits))[0]
    return v.bits


class Module(_Handle):
    """A compiled Wasm module (without imports, for icx_instance_new)."""

    _free = "module_free"

    def export_type(self, name):
        """(params, results) of an exported function, as lists of TYPE_* codes."""
        types = (_u32 * 64)()
        np_, nr = _u32(), _u32()
        self._engine._out(_lib.module_export_type(self._handle(), name.encode(), types, 64,
                                                  ctypes.byref(np_), ctypes.byref(nr)),
                          "icx_module_export_type(%r)" % name)
        if np_.value + nr.value > 64:
            types = (_u32 * (np_.value + nr.value))()
            self._engine._out(_lib.module_export_type(self._handle(), name.encode(), types,
                                                      len(types), ctypes.byref(np_),
                                                      ctypes.byref(nr)),
                              "icx_module_export_type(%r)" % name)
        t = list(types[:np_.value + nr.value])
        return t[:np_.value], t[np_.value:]

    def instantiate(self):
        h = _P()
        self._engine._out(_lib.instance_new(self._engine._handle(), self._handle(),
                                            ctypes.byref(h)), "icx_instance_new")
        return Instance(self._engine, h.value, self)


class Instance(_Handle):
    """An instance of a Module; call(name, *args) calls an export."""

    _free = "instance_free"

    def __init__(self, engine, handle, module):
        super().__init__(engine, handle)
        self._module = module

    def set_instruction_limit(self, limit):
        self._engine._out(_lib.instance_set_instruction_limit(self._handle(), limit),
                          "icx_instance_set_instruction_limit")

    def call(self, name, *args):
        """Call export name with Python numbers; a CallResult (traps are results)."""
        params, results = self._module.export_type(name)
        if len(args) != len(params):
            raise TypeError("%s takes %d arguments, not %d" % (name, len(params), len(args)))
        argv = (c_value * max(len(args), 1))(*[_to_value(t, x) for t, x in zip(params, args)])
        resv = (c_value * max(len(results), 1))()
        c = c_call_result()
        c.struct_size = ctypes.sizeof(c_call_result)
        self._engine._out(_lib.instance_call(self._handle(), name.encode(), argv, len(args),
                                             resv, len(results), ctypes.byref(c)),
                          "icx_instance_call(%r)" % name)
        return CallResult([_from_value(resv[i]) for i in range(len(results))], c)
