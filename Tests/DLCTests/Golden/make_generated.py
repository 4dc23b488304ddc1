#!/usr/bin/env python3
"""Writes the golden programs that are awkward to type by hand:

- errors/syntax_invalid_utf8.dl: a raw 0xff byte in a comment (the source must be UTF-8);
- errors/syntax_nesting_too_deep.dl: 257 parentheses, one past the limit of 256;
- programs/nesting_256.dl: 256 brackets deep (255 parentheses around a call), exactly the limit.

Every other golden program is plain text: edit it directly. Run from anywhere:

    python3 Tests/DLCTests/Golden/make_generated.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

HEAD = """model m {
    input  x: f32[N, 3]
    target y: f32[N, 1]
    layer fc = Linear(3, 1)
    forward {
"""
TAIL = """        output pred
        loss mse(pred, y)
    }
}
"""


def write(relpath: str, data: bytes) -> None:
    with open(os.path.join(HERE, relpath), "wb") as f:
        f.write(data)


def main() -> None:
    # The 0xff byte is on line 7 (the `# expect:` line is line 1), column 37 in bytes.
    body = HEAD.encode() + b"        pred = fc(x)    # weight in \xff lbs\n" + TAIL.encode()
    write("errors/syntax_invalid_utf8.dl",
          b"# expect: 7:37 invalid UTF-8 byte 0xff (in a comment)\n" + body)

    # `pred = ` ends at column 15, so the 257th '(' is at column 15 + 257 = 272.
    deep = "        pred = " + "(" * 257 + "fc(x)" + ")" * 257 + "\n"
    write("errors/syntax_nesting_too_deep.dl",
          ("# expect: 7:272 nesting deeper than 256 brackets (the 257th '(')\n"
           + HEAD + deep + TAIL).encode())

    line = "        pred = " + "(" * 255 + "fc(x)" + ")" * 255
    write("programs/nesting_256.dl", f"""# covers: nesting exactly 256 brackets deep (255 parentheses around a call), the deepest the
# language accepts (brackets are ( and [; braces do not count)
model nesting_256 {{
    input  x: f32[N, 2]
    target y: f32[N, 1]
    layer fc = Linear(2, 1)
    forward {{
{line}
        output pred
        loss mse(pred, y)
    }}
}}
""".encode())


if __name__ == "__main__":
    main()
