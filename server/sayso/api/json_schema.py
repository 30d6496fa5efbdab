"""The server's own validation rules, said in JSON Schema for the OpenAPI document.

apispec turns marshmallow's built-in validators (lengths, ranges, ``OneOf``, ``Regexp``)
into JSON Schema by itself. Sayso's own validators are plain functions it cannot read, so
this module says what each one allows, from the same source the validator checks against:
the characters :func:`sayso.shared.text.plain_text` refuses, the taxonomy's topic ids, the
tz database's zones; any other validator may carry its own ``json_schema`` (a dict, or a
callable making one). A schema that takes exactly one of some keys says so in
``exactly_one_of`` (the document gives a ``oneOf`` of one object per key), one with a few
exact shapes lists them in ``json_schema_shapes()``, and a field whose value may take one
of several shapes lists them as fields in ``metadata={"any_of": [...]}``.

Rules JSON Schema cannot state (entries that must not repeat by some key, quiet hours
whose start and end differ, a date within the last year) are said in the descriptions.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import ValidationError, fields, validate

from sayso.fields import _time_zone, _topic
from sayso.shared.text import _hidden, not_blank, plain_text
from sayso.taxonomy import topics

_UNICODE = range(0x110000)
_SURROGATES = range(0xD800, 0xE000)


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return spans


def _char(code: int) -> str:
    # \uXXXX means the same in ECMA-262, Python and Rust patterns; above the BMP there is
    # no common escape, so those characters are written as themselves.
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _char_class(codes: list[int]) -> str:
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in _ranges(codes)
    )


@cache
def _hidden_class() -> str:
    # Lone surrogates (refused too, as text that is not Unicode) cannot be named in a
    # pattern that every regular expression engine reads; they are not valid JSON text.
    hidden = [c for c in _UNICODE if c not in _SURROGATES and _hidden(chr(c)) is not None]
    return _char_class(hidden)


@cache
def _space_class() -> str:
    # What str.strip() removes.
    return _char_class([c for c in _UNICODE if chr(c).isspace()])


def text_pattern(*, plain: bool = True, blank: bool = True) -> str:
    """A pattern for text without NUL (refused at the door, sayso.security); if ``plain``,
    without what :func:`plain_text` refuses either; unless ``blank``, with at least one
    character that is not a space, as :func:`not_blank` wants."""
    refused = _hidden_class() if plain else "\\u0000"
    if blank:
        return f"^[^{refused}]*$"
    return f"^[^{refused}]*[^{refused}{_space_class()}][^{refused}]*$"


@cache
def _topic_ids() -> list[int]:
    return sorted(topics())


def _loads(zone: str) -> bool:
    try:
        _time_zone(zone)
    except ValidationError:  # listed but not loadable (a broken tz package)
        return False
    return True


@cache
def _zones() -> list[str]:
    return [zone for zone in sorted(zoneinfo.available_timezones()) if _loads(zone)]


#: No text Sayso takes holds a NUL: the request is refused at the door (sayso.security).
NO_NUL = "^[^\\u0000]*$"


def _dict_limits(field, ret: dict) -> dict:
    # apispec says a Dict's Length as maxLength; of an object it is a number of keys.
    properties = {}
    for length in (v for v in field.validators if isinstance(v, validate.Length)):
        ret.pop("minLength", None)
        ret.pop("maxLength", None)
        if length.min is not None:
            properties["minProperties"] = length.min
        if length.max is not None:
            properties["maxProperties"] = length.max
    return properties


def own_validators(converter, field, ret: dict, **kwargs) -> dict:
    """The JSON Schema of the validators apispec does not know (an attribute function)."""
    validators = set(field.validators)
    properties: dict = {}
    if isinstance(field, fields.Dict):
        properties.update(_dict_limits(field, ret))
        if field.key_field is not None:
            properties["propertyNames"] = converter.field2property(field.key_field)
    text = plain_text in validators or not_blank in validators
    if text or (isinstance(field, fields.String) and not {"pattern", "enum"} & set(ret)):
        plain, blank = plain_text in validators, not_blank not in validators
        properties["pattern"] = text_pattern(plain=plain, blank=blank)
    if _topic in validators:
        properties["enum"] = _topic_ids()
        if "description" not in ret:
            properties["description"] = "A topic id of the Topics taxonomy v2."
    if _time_zone in validators:
        properties["enum"] = _zones()
        if "description" not in ret:
            properties["description"] = "An IANA time zone name, e.g. Europe/Paris."
    shapes = field.metadata.get("any_of")
    if shapes:  # a field whose value may take any of these shapes (e.g. an answer)
        properties["anyOf"] = [converter.field2property(shape) for shape in shapes]
    for validator in field.validators:
        # A validator may say what it allows itself (a dict, or a callable making one).
        said = getattr(validator, "json_schema", None)
        properties.update(said() if callable(said) else said or {})
    if "enum" in properties and properties.get("pattern") == NO_NUL:
        del properties["pattern"]  # the enum says more
    if "enum" in properties and field.allow_none:
        properties["enum"] = [*properties["enum"], None]
    return properties


def _one_of(jsonschema: dict, keys: tuple[str, ...], name: str) -> dict:
    """``jsonschema`` (an object) as one object per key of ``keys``, each requiring its key
    and refusing the others."""
    properties = jsonschema["properties"]
    shared = {k: v for k, v in properties.items() if k not in keys}
    required = [k for k in jsonschema.get("required", []) if k not in keys]
    variants = []
    for key in keys:
        variant = {
            "title": f"{name}By{''.join(p.title() for p in key.split('_'))}",
            "type": "object",
            "properties": {key: properties[key], **shared},
            "required": [key, *required],
        }
        if "additionalProperties" in jsonschema:
            variant["additionalProperties"] = jsonschema["additionalProperties"]
        variants.append(variant)
    rest = {k: v for k, v in jsonschema.items() if k not in ("type", "properties", "required")}
    rest.pop("additionalProperties", None)
    return {**rest, "oneOf": variants}


class DocumentedConverter(OpenAPIConverter):
    """Describes each schema with the first line of its class docstring; a schema with
    ``exactly_one_of``, or with ``json_schema_shapes()``, as a ``oneOf``."""

    def init_attribute_functions(self):
        """apispec's attribute functions, then :func:`own_validators`."""
        super().init_attribute_functions()
        self.add_attribute_function(own_validators)

    def schema2jsonschema(self, schema):
        """The JSON Schema apispec makes, plus a ``description`` (and ``oneOf``)."""
        jsonschema = super().schema2jsonschema(schema)
        cls = resolve_schema_cls(schema)
        # The class's own docstring only: a schema made by Schema.from_dict has none, and
        # must not inherit marshmallow's.
        doc = cls.__dict__.get("__doc__")
        if doc:
            jsonschema.setdefault("description", doc.strip().splitlines()[0])
        keys = getattr(cls, "exactly_one_of", None)
        if keys:
            jsonschema = _one_of(jsonschema, tuple(keys), cls.__name__.removesuffix("Schema"))
        # A schema whose fields go together in a few exact shapes says them itself (COARSEN:
        # a grant's view, each name with the parameters it takes).
        shapes = getattr(cls, "json_schema_shapes", None)
        if shapes:
            described = {k: v for k, v in jsonschema.items() if k == "description"}
            jsonschema = {**described, "oneOf": shapes()}
        return jsonschema


class SaysoMarshmallowPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, with Sayso's own validators and schema descriptions."""

    Converter = DocumentedConverter
