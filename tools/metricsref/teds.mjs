// TEDS from the trees teds_trees.py writes, with npm edit-distance's Zhang–Shasha tree edit distance and
// its Levenshtein for cell tokens. Same costs as PubTabNet's CustomConfig: insert/delete 1, rename 1 when
// tag/colspan/rowspan differ, token Levenshtein / longer token list between two td with tokens, else 0.
// stdin: teds_trees.py's output; stdout: JSON list of scores (0 where the tree is null).
import ed from 'edit-distance';

const one = () => 1;
const tokenDistance = (a, b) => ed.levenshtein(a, b, one, one, (x, y) => (x === y ? 0 : 1)).distance;
const rename = (a, b) => {
  if (a.tag !== b.tag || a.colspan !== b.colspan || a.rowspan !== b.rowspan) return 1;
  if (a.tag === 'td' && (a.tokens.length > 0 || b.tokens.length > 0)) {
    return tokenDistance(a.tokens, b.tokens) / Math.max(a.tokens.length, b.tokens.length);
  }
  return 0;
};

let input = '';
for await (const chunk of process.stdin) input += chunk;
const scores = JSON.parse(input).map((c) => {
  if (c === null) return 0;
  const d = ed.ted(c.pred, c.true, (n) => n.children, one, one, rename).distance;
  return 1 - d / c.n;
});
process.stdout.write(JSON.stringify(scores));
