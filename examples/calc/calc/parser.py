"""Turn tokens into an expression tree by precedence climbing."""

from __future__ import annotations

from calc import tokens as t
from calc.errors import ParseError
from calc.nodes import BinOp, Call, Node, Num, Unary, Var
from calc.operators import BINARY, UNARY, UNARY_PRECEDENCE


def parse(source: str) -> Node:
    parser = _Parser(t.tokenize(source))
    node = parser.expression(0)
    parser.expect(t.END, "end of expression")
    return node


class _Parser:
    def __init__(self, tokens: list[t.Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> t.Token:
        return self.tokens[self.index]

    def advance(self) -> t.Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> t.Token:
        token = self.peek()
        if token.kind != kind:
            found = repr(token.text) if token.text else "end of input"
            raise ParseError(f"expected {what}, found {found}", token.pos)
        return self.advance()

    def expression(self, min_precedence: int) -> Node:
        """Parse operators that bind at least as tightly as `min_precedence`."""
        left = self.prefix()
        while True:
            token = self.peek()
            op = BINARY.get(token.text) if token.kind == t.OP else None
            if op is None or op.precedence < min_precedence:
                return left
            self.advance()
            # A left-associative operator must not take a right operand that contains
            # itself, so the right side only accepts tighter operators.
            next_min = op.precedence if op.right_assoc else op.precedence + 1
            right = self.expression(next_min)
            left = BinOp(op.symbol, left, right)

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind == t.NUMBER:
            text = token.text
            is_float = any(c in text for c in ".eE")
            return Num(float(text) if is_float else int(text))
        if token.kind == t.NAME:
            if self.peek().kind == t.LPAREN:
                return self.call(token.text)
            return Var(token.text)
        if token.kind == t.LPAREN:
            node = self.expression(0)
            self.expect(t.RPAREN, "')'")
            return node
        if token.kind == t.OP and token.text in UNARY:
            return Unary(token.text, self.expression(UNARY_PRECEDENCE))
        found = repr(token.text) if token.text else "end of input"
        raise ParseError(f"expected a number, a name or '(', found {found}", token.pos)

    def call(self, name: str) -> Call:
        self.expect(t.LPAREN, "'('")
        args: list[Node] = []
        if self.peek().kind != t.RPAREN:
            args.append(self.expression(0))
            while self.peek().kind == t.COMMA:
                self.advance()
                args.append(self.expression(0))
        self.expect(t.RPAREN, "')'")
        return Call(name, tuple(args))
