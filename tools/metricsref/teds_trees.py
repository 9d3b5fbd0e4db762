#!/usr/bin/env python3
"""Builds PubTabNet's TEDS trees with lxml (the reference metric's HTML parser) for teds.mjs.

Written from the description of src/metric.py in ibm-aur-nlp/PubTabNet (Apache-2.0), not copied:
lxml.html parses the document, the table must sit directly under body, ignore_nodes are stripped with
etree.strip_tags, the denominator is len(table.xpath('.//*')), td nodes are leaves carrying colspan,
rowspan and their tokens (characters of text plus '<tag>'/'</tag>' for inline elements, tails
included), every other element keeps all its child elements.

stdin: JSON list of {"pred", "true", "structure_only", "ignore_nodes"} (UTF-8 bytes to the parser); a fragment is wrapped in
<html><body>...</body></html> as PubTabNet's files are. stdout: JSON list of
{"pred": tree, "true": tree, "n": int} or null where the reference scores 0 without a distance.
The reference passes its parser positionally, where lxml 4.9's html.fromstring takes base_url (a
TypeError); it is passed here as parser=, which is what the reference means.
"""
import json
import sys

from lxml import etree, html


def tokens(node, out):
    out.append('<%s>' % node.tag)
    if node.text is not None:
        out.extend(node.text)
    for child in node:
        tokens(child, out)
    if node.tag != 'unk':
        out.append('</%s>' % node.tag)
    if node.tag != 'td' and node.tail is not None:
        out.extend(node.tail)


def tree(node, structure_only):
    if node.tag == 'td':
        cell = []
        if not structure_only:
            cell = []
            tokens(node, cell)
            cell = cell[1:-1]
        return {'tag': 'td', 'colspan': int(node.attrib.get('colspan', '1')),
                'rowspan': int(node.attrib.get('rowspan', '1')), 'tokens': cell, 'children': []}
    return {'tag': node.tag, 'colspan': None, 'rowspan': None, 'tokens': None,
            'children': [tree(child, structure_only) for child in node]}


def wrap(s):
    low = s.lstrip().lower()
    return s if low.startswith('<html') or low.startswith('<!doctype') else '<html><body>%s</body></html>' % s


def one(case):
    pred, true = case['pred'], case['true']
    if not pred or not true:
        return None
    parser = html.HTMLParser(remove_comments=True, encoding='utf-8')
    pred = html.fromstring(wrap(pred).encode('utf-8'), parser=parser)
    true = html.fromstring(wrap(true).encode('utf-8'), parser=parser)
    if not (pred.xpath('body/table') and true.xpath('body/table')):
        return None
    pred, true = pred.xpath('body/table')[0], true.xpath('body/table')[0]
    if case.get('ignore_nodes'):
        etree.strip_tags(pred, *case['ignore_nodes'])
        etree.strip_tags(true, *case['ignore_nodes'])
    n = max(len(pred.xpath('.//*')), len(true.xpath('.//*')))
    so = bool(case.get('structure_only'))
    return {'pred': tree(pred, so), 'true': tree(true, so), 'n': n}


json.dump([one(c) for c in json.load(sys.stdin)], sys.stdout)
