"""``orgwarden_idn_unicode(text)``: internationalised domain labels read back in Unicode, in SQL.

Addresses and domains are stored in their ASCII form (``user@xn--bcher-kva.example``: see
``orgwarden.idn``). A search for the whole of a label typed in Unicode can be turned into that form
first, but a part of one cannot: Punycode keeps no prefixes (``büch`` is ``xn--bch-hoa``, not a
start of ``xn--bcher-kva``). So the audit log's search also matches its text with every ``xn--``
label decoded back to Unicode, and that decoding has to happen in the query, row by row, for the
filter, the order and the LIMIT to stay in the database.

The function decodes each run of ``[a-z0-9-]`` that starts with ``xn--`` (a label: dots, ``@``
and spaces end it) by RFC 3492 Punycode and leaves everything else, and every label that does not
decode, as it is. Stored text is lower case (IDNA lower-cases its labels), so is its input.

- PostgreSQL: two SQL functions the ``audit`` migration ``0004`` creates (``POSTGRESQL_CREATE``): a
  PL/pgSQL transcription of RFC 3492's decoder, and the label-by-label rewrite around it.
- SQLite has no procedural language: ``text_idn_unicode`` below is registered on every connection
  (``sqlite_register``, connected to ``connection_created`` by the ``audit`` app), the way Django
  gives SQLite its own functions (``django_date_extract``, ``REGEXP``). SQLite calls it inside the
  query; callers guard it with ``LIKE '%xn--%'`` so that only rows holding a label pay for it.

Both decode the same way; ``audit/tests/test_idn_search.py`` runs the same cases through each.
"""

from __future__ import annotations

import re

from django.db.models import Func, TextField

SQL_FUNCTION = "orgwarden_idn_unicode"
_RUN = re.compile(r"[a-z0-9-]+")


class IdnUnicode(Func):
    """``orgwarden_idn_unicode(expression)``: the text with its ``xn--`` labels in Unicode."""

    function = SQL_FUNCTION
    output_field = TextField()


def _label(match: re.Match[str]) -> str:
    run = match.group(0)
    if not run.startswith("xn--"):
        return run
    try:
        decoded = run[4:].encode("ascii").decode("punycode")
        decoded.encode("utf-8")  # a lone surrogate decodes, but is no character a database stores
    except UnicodeError:  # not Punycode: matched as stored
        return run
    return decoded


def text_idn_unicode(text: str | None) -> str | None:
    """``text`` with each ``xn--`` label decoded: ``user@xn--bcher-kva.example`` → ``user@bücher.example``."""
    if text is None or "xn--" not in text:
        return text
    return _RUN.sub(_label, text)


def sqlite_register(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: give a new SQLite connection ``orgwarden_idn_unicode``."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQL_FUNCTION, 1, text_idn_unicode, deterministic=True)


# RFC 3492, section 6.2 (decoding) and 6.1 (bias adaptation), constants of section 5. bigint so that
# a hostile label overflows into "not Punycode" (NULL), never into an error that fails the query.
POSTGRESQL_CREATE = (
    r"""
CREATE OR REPLACE FUNCTION orgwarden_punycode_decode(input text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    n bigint := 128; i bigint := 0; bias bigint := 72;
    output int[] := '{}';
    b int; pos int; oldi bigint; w bigint; k bigint; digit int; t bigint; c int;
    delta bigint; points int;
BEGIN
    IF position('-' in input) = 0 THEN
        b := 0;
    ELSE
        b := length(input) - position('-' in reverse(input));
    END IF;
    FOR j IN 1..b LOOP
        c := ascii(substr(input, j, 1));
        IF c >= 128 THEN RETURN NULL; END IF;
        output := output || c;
    END LOOP;
    pos := CASE WHEN position('-' in input) > 0 THEN b + 2 ELSE 1 END;  -- after the delimiter
    WHILE pos <= length(input) LOOP
        oldi := i; w := 1; k := 36;
        LOOP
            IF pos > length(input) THEN RETURN NULL; END IF;
            c := ascii(substr(input, pos, 1));
            pos := pos + 1;
            IF c BETWEEN 48 AND 57 THEN digit := c - 22;
            ELSIF c BETWEEN 97 AND 122 THEN digit := c - 97;
            ELSIF c BETWEEN 65 AND 90 THEN digit := c - 65;
            ELSE RETURN NULL;
            END IF;
            i := i + digit * w;
            IF i > 2147483647 THEN RETURN NULL; END IF;
            t := CASE WHEN k <= bias THEN 1 WHEN k >= bias + 26 THEN 26 ELSE k - bias END;
            EXIT WHEN digit < t;
            w := w * (36 - t);
            IF w > 1099511627776 THEN RETURN NULL; END IF;
            k := k + 36;
        END LOOP;
        points := coalesce(array_length(output, 1), 0) + 1;
        delta := CASE WHEN oldi = 0 THEN (i - oldi) / 700 ELSE (i - oldi) / 2 END;
        delta := delta + delta / points;
        k := 0;
        WHILE delta > 455 LOOP
            delta := delta / 35;
            k := k + 36;
        END LOOP;
        bias := k + (36 * delta) / (delta + 38);
        n := n + i / points;
        i := i % points;
        IF n > 1114111 OR n BETWEEN 55296 AND 57343 THEN RETURN NULL; END IF;
        output := output[1:i] || n::int || output[i + 1:];
        i := i + 1;
    END LOOP;
    RETURN (SELECT coalesce(string_agg(chr(x), '' ORDER BY ord), '')
            FROM unnest(output) WITH ORDINALITY AS u(x, ord));
END
$$
""",
    r"""
CREATE OR REPLACE FUNCTION orgwarden_idn_unicode(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL OR position('xn--' in value) = 0 THEN value ELSE (
        SELECT string_agg(
            CASE WHEN m[1] LIKE 'xn--%' THEN coalesce(orgwarden_punycode_decode(substr(m[1], 5)), m[1])
                 ELSE m[1] END,
            '' ORDER BY ord)
        FROM regexp_matches(value, '[a-z0-9-]+|[^a-z0-9-]+', 'g') WITH ORDINALITY AS r(m, ord)
    ) END
$$
""",
)

POSTGRESQL_DROP = (
    "DROP FUNCTION IF EXISTS orgwarden_idn_unicode(text)",
    "DROP FUNCTION IF EXISTS orgwarden_punycode_decode(text)",
)
