"""The expression grammar (lark, LALR with a contextual lexer) and syntax errors.

One grammar with three start symbols: ``condition`` (ConditionExpression, FilterExpression
and KeyConditionExpression), ``update`` and ``projection``. The contextual lexer only
offers the tokens the parser can accept next, so ``SET and = :v`` reads ``and`` as an
attribute name (then refused as a reserved word) while ``a = :v AND b = :w`` reads it as
the keyword. Keywords are case-insensitive; function names are ordinary names here and are
checked when the tree is built.
"""

from __future__ import annotations

import re

import lark

from meridian.expressions.errors import invalid

GRAMMAR = r"""
condition: or_expr
?or_expr: and_expr
        | or_expr OR and_expr       -> or_
?and_expr: not_expr
         | and_expr AND not_expr    -> and_
?not_expr: primary
         | NOT not_expr             -> not_
?primary: operand comparator operand              -> compare
        | operand BETWEEN operand AND operand     -> between
        | operand IN "(" operand ("," operand)* ")" -> in_
        | call
        | "(" or_expr ")"                         -> parens

?operand: path
        | VALUE                     -> value
        | call
call: NAME "(" operand ("," operand)* ")"
comparator: EQ | NE | LT | LE | GT | GE

update: clause+
?clause: SET set_action ("," set_action)*         -> set_clause
       | REMOVE path ("," path)*                  -> remove_clause
       | ADD path VALUE ("," path VALUE)*         -> add_clause
       | DELETE path VALUE ("," path VALUE)*      -> delete_clause
set_action: path EQ set_value
?set_value: operand
          | operand PLUS operand    -> arith
          | operand MINUS operand   -> arith

projection: path ("," path)*

path: name step*
?name: NAME                         -> plain_name
     | NAME_REF                     -> name_ref
?step: "." name
     | "[" INDEX "]"                -> index

EQ: "="
NE: "<>"
LT: "<"
LE: "<="
GT: ">"
GE: ">="
PLUS: "+"
MINUS: "-"
OR: "OR"i
AND: "AND"i
NOT: "NOT"i
BETWEEN: "BETWEEN"i
IN: "IN"i
SET: "SET"i
REMOVE: "REMOVE"i
ADD: "ADD"i
DELETE: "DELETE"i
NAME: /[A-Za-z][A-Za-z0-9_]*/
NAME_REF: /#[A-Za-z0-9_]+/
VALUE: /:[A-Za-z0-9_]+/
INDEX: /[0-9]+/
WS: /[ \t\r\n]+/
%ignore WS
"""

PARSER = lark.Lark(
    GRAMMAR,
    parser="lalr",
    lexer="contextual",
    start=["condition", "update", "projection"],
)

# Tokens as DynamoDB's messages show them (only used to quote the text near an error).
_MESSAGE_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[0-9]+|[#:][A-Za-z0-9_]*|<>|<=|>=|\S", re.ASCII)


def parse(start: str, kind: str, text: str) -> lark.Tree:
    """Parse `text` from the `start` symbol; raise ExpressionError for `kind` on bad syntax."""
    if not text.strip():
        raise invalid(kind, "The expression can not be empty;")
    try:
        return PARSER.parse(text, start=start)
    except lark.exceptions.UnexpectedToken as e:
        if e.token.type == "$END":
            raise invalid(kind, syntax_error(text, None)) from None
        raise invalid(kind, syntax_error(text, e.token.start_pos)) from None
    except lark.exceptions.UnexpectedCharacters as e:
        raise invalid(kind, syntax_error(text, e.pos_in_stream, single=True)) from None


def syntax_error(text: str, position: int | None, single: bool = False) -> str:
    """``Syntax error; token: "<t>", near: "<previous> <t> <next>"`` as DynamoDB words it.

    `position` is where the offending token starts (None: the end of the text); `single`
    means the lexer stopped on one character it could not read.
    """
    tokens = [(m.start(), m.end()) for m in _MESSAGE_TOKEN.finditer(text)]
    if position is None:
        start = tokens[-2][0] if len(tokens) > 1 else tokens[-1][0]
        return f'Syntax error; token: "<EOF>", near: "{text[start:].rstrip()}"'
    index = next((i for i, (s, _) in enumerate(tokens) if s >= position), len(tokens) - 1)
    token_end = position + 1 if single else tokens[index][1]
    if single and index + 1 < len(tokens) and tokens[index][0] == position:
        following = [t for t in tokens if t[0] >= token_end]
    else:
        following = tokens[index + 1 :]
    start = tokens[index - 1][0] if index > 0 else position
    end = following[0][1] if following else token_end
    return f'Syntax error; token: "{text[position:token_end]}", near: "{text[start:end]}"'
