#!/usr/bin/env python3
"""Moves Java classes between packages of blocksim and fixes every reference.

Usage: tools/move_class.py FROM_PKG TO_PKG Class [Class...]   (packages relative to
io.blocksim.model, e.g. `qmp qapi QmpError Args`). Rewrites qualified names and imports in
model/ and sim/ (main and test), adds imports where a class was used from its old package
without one, and adds imports to the moved class for what it used from its old package.
Package-private access that the move breaks is left to the compiler to report.
"""
import pathlib
import re
import subprocess
import sys

ROOT = 'io.blocksim.model'


def pkg_dir(module, kind, pkg):
    return pathlib.Path(module, 'src', kind, 'java', *ROOT.split('.'), *pkg.split('.'))


def add_import(text, fqn):
    line = f'import {fqn};'
    if line in text:
        return text
    imports = list(re.finditer(r'^import [^;]+;\n', text, re.M))
    if imports:
        # Keep imports sorted-ish: insert before the first non-static import that sorts after.
        for m in imports:
            name = m.group()[7:-2]
            if not name.startswith('static ') and name > fqn:
                return text[:m.start()] + line + '\n' + text[m.start():]
        end = imports[-1].end()
        return text[:end] + line + '\n' + text[end:]
    m = re.search(r'^package [^;]+;\n', text, re.M)
    return text[:m.end()] + '\n' + line + '\n' + text[m.end():]


def main():
    src, dst, classes = sys.argv[1], sys.argv[2], sys.argv[3:]
    full_src, full_dst = f'{ROOT}.{src}' if src else ROOT, f'{ROOT}.{dst}'
    files = [p for m in ('model', 'sim') for p in pathlib.Path(m, 'src').rglob('*.java')]
    moved = {}
    for kind in ('main', 'test'):
        for c in classes:
            p = pkg_dir('model', kind, src) / f'{c}.java'
            if p.exists():
                q = pkg_dir('model', kind, dst) / f'{c}.java'
                q.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(['git', 'mv', str(p), str(q)], check=True)
                moved[c] = (p, q)
    old_pkg_classes = {p.stem for kind in ('main', 'test')
                       for p in pkg_dir('model', kind, src).glob('*.java')}
    files = [p for m in ('model', 'sim') for p in pathlib.Path(m, 'src').rglob('*.java')]
    for f in files:
        text = f.read_text()
        orig = text
        pkg = re.search(r'^package ([\w.]+);', text, re.M).group(1)
        for c in classes:
            text = re.sub(rf'\b{re.escape(full_src)}\.{c}\b', f'{full_dst}.{c}', text)
        if pkg == full_dst:
            for c in classes:
                text = text.replace(f'import {full_dst}.{c};\n', '')
        if f.stem in classes and pkg == full_src:
            text = text.replace(f'package {full_src};', f'package {full_dst};', 1)
            body = re.sub(r'^import [^;]+;\n', '', text, flags=re.M)
            for c in sorted(old_pkg_classes - set(classes)):
                if re.search(rf'\b{c}\b', body):
                    text = add_import(text, f'{full_src}.{c}')
        elif pkg == full_src:
            body = re.sub(r'^import [^;]+;\n', '', text, flags=re.M)
            for c in classes:
                if re.search(rf'(?<![\w.]){c}\b', body):
                    text = add_import(text, f'{full_dst}.{c}')
        if text != orig:
            f.write_text(text)


if __name__ == '__main__':
    main()
