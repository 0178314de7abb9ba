#!/usr/bin/env python3
"""Makes the package-private members that javac reports as "is not public in" public.

Usage: mvn -q -B -DskipTests package 2>&1 | tools/publicize.py
Used when a class moves to another package and its former neighbours still call it: the
compiler names each member; this adds `public` to that member's declaration(s).
"""
import pathlib
import re
import sys

ROOT = pathlib.Path('model/src/main/java')
MODS = r'(?:static |final |abstract |synchronized )*'


def source(fqn):
    parts = fqn.split('.')
    for i in range(len(parts), 0, -1):
        p = ROOT.joinpath(*parts[:i]).with_suffix('.java')
        if p.exists():
            return p
    return None


def main():
    seen = set()
    for line in sys.stdin:
        m = re.search(r'\] (?:[\w.]+\.)?(\w+)(\(.*?\))? is not public in ([\w.]+)', line)
        if not m or (m.group(1), m.group(3)) in seen:
            continue
        seen.add((m.group(1), m.group(3)))
        name, owner = m.group(1), m.group(3)
        if owner.split('.')[-1].islower():
            # a class not public in its package
            p = source(owner + '.' + name)
            pat = re.compile(rf'^()((?:{MODS})(?:class|interface|record|enum) {name}\b)', re.M)
        else:
            p = source(owner)
            simple = owner.split('.')[-1]
            if name == simple:
                pat = re.compile(rf'^(\s+)({name}\()', re.M)
            else:
                pat = re.compile(
                    rf'^(\s+)((?:{MODS})(?:<[^>]+> )?\w[\w<>\[\], .?]*\s+{name}\s*[(=;])', re.M)
        if p is None:
            print('not found', line.strip(), file=sys.stderr)
            continue
        text = p.read_text()
        new, n = pat.subn(lambda mm: mm.group(1) + 'public ' + mm.group(2)
                          if not mm.group(0).lstrip().startswith(('public', 'private', 'protected', 'return', 'throw', 'new', 'else'))
                          else mm.group(0), text)
        if n == 0:
            print('no declaration', name, 'in', p, file=sys.stderr)
        p.write_text(new)


if __name__ == '__main__':
    main()
