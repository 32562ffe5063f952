"""What the grader and the checks share: calling a student's function, and describing what it did.

A check (``tools/grading_checks.py``) receives the student's function and calls it. The function is wrapped in
a :class:`Submission`, which does three things on every call:

* it **traces** the call (``sys.setprofile``) and records every function of the package (and of
  ``torch.autograd``) that ran inside it, so that a check can refuse an answer that calls the package's own
  implementation, however it was imported or renamed;
* it turns an exception raised by the student's code into :class:`StudentError` (type, message and the line
  in the student's cell), and ``NotImplementedError`` (the untouched student version) into itself;
* it hands back a **copy** of the result, made through the same JSON encoding the grader uses between
  processes, so that a check sees the same kinds of values whether it runs in-process or not.

:class:`LocalSubmission` calls a function of this process (the tests, an nbgrader test cell).
``tools/grade.py`` uses a remote one: the student's notebook runs in its own Jupyter kernel, this file is
loaded *into that kernel* after the notebook ran, and :func:`remote_call` runs there on inputs the grader
sent.
Only the inputs go to the kernel and only the encoded outputs come back; the references are computed in the
grader's process, where nothing the notebook did (monkey-patching the package, ``torch``, or the checks) can
reach them.

:func:`run_check` runs one check on one submission and says, in one sentence, what went wrong; when the
student's function reads a variable of the notebook instead of one of its arguments (a typo such as ``mask``
for ``m``), the sentence says so.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import dis
import importlib
import inspect
import json
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

PACKAGE = "cnm_minimal"
# Functions of these modules are recorded while a student's function runs (the package, and autograd).
WATCHED = (PACKAGE, "torch.autograd", "torch._tensor")


class StudentError(Exception):
    """The student's function raised: ``kind`` is the exception's type, ``where`` its line in the student's
    cell."""

    def __init__(self, kind: str, message: str, where: str = ""):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.where = kind, message, where


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """A returned value the encoding does not carry (its type and a short repr), for the check to report."""

    type: str
    repr: str

    def __str__(self) -> str:
        return f"an object of type {self.type} ({self.repr})"


# -- the encoding between the grader and the kernel
# -----------------------------------------------------------
def encode(obj: Any) -> Any:
    """``obj`` as plain JSON values: tensors, arrays, numbers, strings, tuples, lists, dicts, CNM models and
    the package's dataclasses; anything else becomes a description of it (decoded as :class:`Unsupported`)."""
    import numpy as np
    import torch

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.is_complex():
            return {"$object": "complex tensor", "repr": repr(t)[:200]}
        return {
            "$tensor": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape),
            "data": t.reshape(-1).tolist(),
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            return {"$object": f"numpy array of dtype {obj.dtype}", "repr": repr(obj)[:200]}
        return {"$ndarray": obj.dtype.name, "shape": list(obj.shape), "data": obj.reshape(-1).tolist()}
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return {"$npscalar": obj.dtype.name, "value": obj.item()}
    if isinstance(obj, tuple):
        return {"$tuple": [encode(x) for x in obj]}
    if isinstance(obj, list):
        return [encode(x) for x in obj]
    if isinstance(obj, dict):
        return {"$dict": [[encode(k), encode(v)] for k, v in obj.items()]}
    if (
        isinstance(obj, torch.nn.Module)
        and type(obj).__module__.startswith(PACKAGE)
        and hasattr(obj, "config")
    ):
        return {
            "$module": [type(obj).__module__, type(obj).__qualname__],
            "config": encode(obj.config),
            "state": {k: encode(v) for k, v in obj.state_dict().items()},
            "training": obj.training,
        }
    if (
        dataclasses.is_dataclass(obj)
        and not isinstance(obj, type)
        and type(obj).__module__.startswith(PACKAGE)
    ):
        return {
            "$dataclass": [type(obj).__module__, type(obj).__qualname__],
            "fields": {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)},
        }
    return {"$object": type(obj).__qualname__, "repr": repr(obj)[:200]}


def _package_class(where: list[str]) -> type:
    module, qualname = where
    if not module.startswith(PACKAGE):  # only the package's own classes are rebuilt
        raise ValueError(f"refusing to rebuild {module}.{qualname}")
    target = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode` (fresh objects every time)."""
    import numpy as np
    import torch

    if isinstance(obj, list):
        return [decode(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    if "$tensor" in obj:
        dtype = getattr(torch, obj["$tensor"])
        return torch.tensor(obj["data"], dtype=dtype).reshape(obj["shape"])
    if "$ndarray" in obj:
        return np.array(obj["data"], dtype=obj["$ndarray"]).reshape(obj["shape"])
    if "$npscalar" in obj:
        return np.dtype(obj["$npscalar"]).type(obj["value"])
    if "$tuple" in obj:
        return tuple(decode(x) for x in obj["$tuple"])
    if "$dict" in obj:
        return {decode(k): decode(v) for k, v in obj["$dict"]}
    if "$module" in obj:
        module = _package_class(obj["$module"])(decode(obj["config"]))
        module.load_state_dict({k: decode(v) for k, v in obj["state"].items()})
        return module.train(obj["training"])
    if "$dataclass" in obj:
        return _package_class(obj["$dataclass"])(**{k: decode(v) for k, v in obj["fields"].items()})
    if "$object" in obj:
        return Unsupported(obj["$object"], obj["repr"])
    raise ValueError(f"cannot decode {sorted(obj)}")


def dumps(obj: Any) -> str:
    return json.dumps(encode(obj), allow_nan=True)


def loads(text: str) -> Any:
    return decode(json.loads(text))


# -- calling a student's function -------------------------------------------------------------------------
def _canary() -> None:
    """Called under the tracer before the student's function: proves that tracing works in this process."""


def _qualname(frame) -> str:
    """The qualified name of the function running in ``frame`` (``co_qualname`` from Python 3.11 on)."""
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)
    if qualname:
        return qualname
    if code.co_argcount and code.co_varnames[0] in ("self", "cls"):  # Python 3.10: rebuild Class.method
        owner = frame.f_locals.get(code.co_varnames[0])
        owner = owner if isinstance(owner, type) else type(owner)
        for klass in getattr(owner, "__mro__", ()):
            if getattr(klass.__dict__.get(code.co_name), "__code__", None) is code:
                return f"{klass.__qualname__}.{code.co_name}"
    return code.co_name


def _where(error: BaseException, function: Callable) -> str:
    """``line N of your cell`` for the deepest frame of the student's cell in the traceback, if any."""
    code = getattr(function, "__code__", None)
    if code is None:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == code.co_filename]
    return f"line {frames[-1].lineno} of the cell that defines it" if frames else ""


def traced_call(function: Callable, args: tuple, kwargs: dict, watched: tuple[str, ...] = WATCHED) -> dict:
    """Call ``function(*args, **kwargs)`` under a profiler: ``{"result", "error", "calls", "tracing"}``.

    ``calls`` counts every function of the ``watched`` modules that ran (``module.qualname``); ``tracing`` is
    False when the profiler did not see the canary call or was replaced while the function ran. ``error`` is
    ``{"kind", "message", "where"}`` or None."""
    calls: collections.Counter = collections.Counter()
    watched = tuple(watched) + (__name__,)

    def profile(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__") or ""
            if module.startswith(watched):
                calls[f"{module}.{_qualname(frame)}"] += 1

    previous = sys.getprofile()
    result, error = None, None
    sys.setprofile(profile)
    try:
        _canary()
        try:
            result = function(*args, **kwargs)
        except KeyboardInterrupt:  # the grader's timeout interrupts the kernel: let it through
            raise
        except BaseException as exception:  # noqa: BLE001 - the student's code may raise anything
            error = {
                "kind": type(exception).__name__,
                "message": str(exception),
                "where": _where(exception, function),
            }
    finally:
        intact = sys.getprofile() is profile
        sys.setprofile(previous)
    canary = calls.pop(f"{__name__}._canary", 0)
    for name in [n for n in calls if n.startswith(__name__ + ".")]:
        del calls[name]
    return {"result": result, "error": error, "calls": dict(calls), "tracing": bool(canary) and intact}


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def describe(function: Any) -> dict:
    """What the grader reports about the student's function: whether it is one, where it comes from, its
    parameters, and the notebook variables (not modules, functions or classes) it reads as globals."""
    info: dict = {
        "defined": True,
        "callable": callable(function),
        "type": type(function).__qualname__,
        "module": getattr(function, "__module__", None) or "",
        "params": [],
        "data_globals": [],
    }
    try:
        info["params"] = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        pass
    code, namespace = getattr(function, "__code__", None), getattr(function, "__globals__", None)
    if (
        isinstance(code, types.CodeType)
        and isinstance(namespace, dict)
        and not info["module"].startswith(PACKAGE)
    ):
        for name in sorted(_global_names(code)):
            if name not in namespace:
                continue
            value = namespace[name]
            if isinstance(value, (types.ModuleType, type)) or (
                callable(value) and not hasattr(value, "state_dict")
            ):
                continue  # modules, functions, classes; a model counts as data
            shape = getattr(value, "shape", None)
            kind = type(value).__name__
            text = f"a {kind} of shape {tuple(shape)}" if shape is not None else f"a {kind}"
            info["data_globals"].append({"name": name, "what": text})
    return info


class Submission:
    """The student's function as a check sees it (see the module docstring); ``calls`` holds the package
    functions its last call ran."""

    def __init__(self, name: str):
        self.name = name
        self.forbidden: dict[str, str] = {}
        self.calls: collections.Counter = collections.Counter()
        self._info: dict | None = None

    def forbid(self, forbidden: dict[str, str]) -> Submission:
        """Refuse any call that runs one of ``forbidden`` (``module.qualname`` -> how to tell the student)."""
        self.forbidden = {**self.forbidden, **forbidden}
        return self

    def info(self) -> dict:
        if self._info is None:
            self._info = self._describe()
        return self._info

    def __call__(self, *args, **kwargs):
        outcome = self._invoke(args, kwargs)
        self.calls = collections.Counter(outcome["calls"])
        if not outcome["tracing"]:
            raise AssertionError(
                f"the grader could not watch `{self.name}` run (the notebook or the function replaced "
                "sys.setprofile): grade a notebook that leaves the profiler alone"
            )
        for qualname, advice in self.forbidden.items():
            if self.calls.get(qualname):
                whose = "the package's own " if qualname.startswith(PACKAGE + ".") else ""
                raise AssertionError(f"`{self.name}` calls {whose}`{qualname}`: {advice}")
        error = outcome["error"]
        if error:
            if error["kind"] == "NotImplementedError":
                raise NotImplementedError(error["message"])
            raise StudentError(error["kind"], error["message"], error["where"])
        return decode(outcome["result"])

    def _invoke(self, args: tuple, kwargs: dict) -> dict:
        raise NotImplementedError

    def _describe(self) -> dict:
        raise NotImplementedError


class LocalSubmission(Submission):
    """A function of this process, called on deep copies of the inputs (the student may modify them in
    place)."""

    def __init__(self, function: Callable, name: str | None = None):
        super().__init__(name or getattr(function, "__name__", "the function"))
        self.function = function

    def _invoke(self, args, kwargs):
        outcome = traced_call(self.function, copy.deepcopy(args), copy.deepcopy(kwargs))
        if outcome["error"] is None:
            outcome["result"] = json.loads(dumps(outcome["result"]))
        return outcome

    def _describe(self):
        return describe(self.function)


def as_submission(function: Any, name: str) -> Submission:
    """``function`` itself when it is already a :class:`Submission` (the grader's remote one), else a local
    one."""
    return function if isinstance(function, Submission) else LocalSubmission(function, name)


def _hint(info: dict) -> str:
    """One sentence about notebook variables the function reads instead of its arguments, or ''."""
    reads = info.get("data_globals") or []
    if not reads:
        return ""
    import difflib

    parts = []
    for read in reads[:3]:
        close = difflib.get_close_matches(read["name"], info.get("params", []), n=1, cutoff=0.0)
        guess = f" (did you mean the argument `{close[0]}`?)" if close else ""
        parts.append(f"`{read['name']}`, {read['what']}{guess}")
    return (
        " Note that your function reads the notebook's variable "
        + "; ".join(parts)
        + " instead of one of its own arguments: a function that is graded must use only its arguments."
    )


def run_check(check: Callable[[Any], None], submission: Submission) -> dict:
    """Run ``check`` on ``submission``: ``{"kind": ok|todo|wrong|error, "message": one sentence or ''}``."""
    info = submission.info()
    if not info.get("callable", True):
        return {
            "kind": "wrong",
            "message": f"`{submission.name}` is not a function but a value of type "
            f"{info.get('type', '?')}: define it with `def` as the exercise gives it, and run its cell",
        }
    try:
        check(submission)
        return {"kind": "ok", "message": ""}
    except NotImplementedError as error:
        return {"kind": "todo", "message": f"not answered yet ({error})"}
    except AssertionError as error:
        kind, message = "wrong", str(error) or "the answer does not pass the check"
    except StudentError as error:
        kind = "error"
        message = f"your function raised {error.kind}: {error.message}" + (
            f" ({error.where})" if error.where else ""
        )
    except Exception as error:  # noqa: BLE001 - what the student returned broke the check
        kind = "wrong"
        message = (
            f"the grader could not use what `{submission.name}` returned ({type(error).__name__}: {error}); "
            "return the type the exercise asks for"
        )
    try:
        hint = _hint(submission.info())
        if hint:
            message = message.rstrip() + ("" if message.rstrip().endswith((".", "?", "!")) else ".") + hint
    except Exception:  # noqa: BLE001 - a hint must never hide the result
        pass
    return {"kind": kind, "message": message}


# -- the kernel side (called by tools/grade.py inside the student's kernel) --------------------------------
def remote_describe(namespace: dict, name: str, out_path: str) -> None:
    function = namespace.get(name)
    info = {"defined": False} if function is None else describe(function)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(info, f)


def remote_call(namespace: dict, name: str, in_path: str, out_path: str) -> None:
    """Call ``namespace[name]`` on the decoded inputs of ``in_path``; write the encoded outcome to
    ``out_path``."""
    with open(in_path, encoding="utf-8") as f:
        request = json.load(f)
    function = namespace.get(name)
    if function is None:
        outcome = {
            "result": None,
            "calls": {},
            "tracing": True,
            "error": {"kind": "NameError", "message": f"name '{name}' is not defined", "where": ""},
        }
    else:
        outcome = traced_call(function, decode(request["args"]), decode(request["kwargs"]))
        try:
            outcome["result"] = encode(outcome["result"])
        except Exception as error:  # noqa: BLE001 - a result the encoding chokes on
            outcome["result"] = {"$object": type(outcome["result"]).__qualname__, "repr": f"({error})"}
    text = json.dumps(outcome, allow_nan=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)
