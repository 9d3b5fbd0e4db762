// transformers.js reference decode of the onnx-community-style toy checkpoint (batch 1 per case,
// because transformers.js rebuilds the mask as all-ones after a left-padded prefill; DESIGN section 10).
// Usage: node decode.mjs <checkpoint-root> <size> [repeats]   (checkpoint-root holds <size>-community/)
// Prints JSON: { cases: [{ image, prefix, max_new_tokens, prompt_ids, ids, ms? }] } (ms when repeats > 1).
// The committed expected-<size>.json files are this script's output:
//   node decode.mjs ../../models/test-checkpoint 224 > expected-224.json
import path from 'node:path';
import fs from 'node:fs';
import { env, AutoProcessor, PaliGemmaForConditionalGeneration, RawImage } from '@huggingface/transformers';

const root = path.resolve(process.argv[2] ?? '../../models/test-checkpoint');
const size = process.argv[3] ?? '224';
const repeats = Number(process.argv[4] ?? '1');
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = root + path.sep;

const modelId = `${size}-community`;
const processor = await AutoProcessor.from_pretrained(modelId);
const model = await PaliGemmaForConditionalGeneration.from_pretrained(modelId, { dtype: 'fp32', device: 'cpu' });
const golden = JSON.parse(fs.readFileSync(path.join(root, `golden-${size}.json`), 'utf8'));
const cases = [];
for (const c of [...golden.batch1, ...golden.batch3]) {
  const image = await RawImage.read(path.join(root, 'images', c.image));
  const inputs = await processor(image, c.prefix);
  const promptLen = inputs.input_ids.dims[1];
  let ids = null;
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    times.push(performance.now() - t0);
    ids = out.tolist()[0].slice(promptLen).map(Number);
  }
  const promptIds = inputs.input_ids.tolist()[0].map(Number).slice(golden.num_image_tokens);
  const entry = { image: c.image, prefix: c.prefix, max_new_tokens: c.max_new_tokens, prompt_ids: promptIds, ids };
  if (repeats > 1) entry.ms = times; // timings only for the benchmark; the committed ids stay stable
  cases.push(entry);
}
await model.dispose();
process.stdout.write(JSON.stringify({ size: Number(size), cases }) + '\n');
