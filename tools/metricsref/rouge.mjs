// ROUGE-L F1 per pair with npm js-rouge's l(): the caller's tokens (joined by single spaces) are split back on spaces
// and treated as one sentence, so js-rouge computes the LCS, precision, recall and F1 (beta 1).
// stdin: JSON list of [hypothesis tokens, reference tokens]; stdout: JSON list of scores (1 when both are empty,
// 0 when one is, as the project defines it; js-rouge refuses empty text).
import { l } from 'js-rouge';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const opts = { tokenizer: (s) => s.split(' '), segmenter: (s) => [s] };
const scores = JSON.parse(input).map(([h, r]) => {
  if (h.length === 0 || r.length === 0) return h.length === r.length ? 1 : 0;
  return l(h.join(' '), r.join(' '), opts);
});
process.stdout.write(JSON.stringify(scores));
