// Timing of transformers.js generate() on the onnx-community-style toy checkpoint, for bench/inference.
// Usage: node bench.mjs <checkpoint-root> <size> <batch> <repeats> <max_new_tokens>
// Prints JSON { batch, ms: [...] } (one entry per repeat, after one warm-up). At batch > 1 the ids are
// not comparable (transformers.js rebuilds the mask after a left-padded prefill); only time is used.
import path from 'node:path';
import { env, AutoProcessor, PaliGemmaForConditionalGeneration, RawImage } from '@huggingface/transformers';

const [root, size, batchArg, repeatsArg, maxNewArg] = process.argv.slice(2);
const batch = Number(batchArg), repeats = Number(repeatsArg), maxNew = Number(maxNewArg);
env.allowRemoteModels = false;
env.localModelPath = path.resolve(root) + path.sep;
const modelId = `${size}-community`;
const processor = await AutoProcessor.from_pretrained(modelId);
processor.tokenizer.padding_side = 'left';
const model = await PaliGemmaForConditionalGeneration.from_pretrained(modelId, { dtype: 'fp32', device: 'cpu' });
const images = [];
for (let i = 0; i < batch; i++) images.push(await RawImage.read(path.join(path.resolve(root), 'images', `img${i % 3}-${size}.png`)));
// An explicit <image> per prompt: without it the processor gives every prompt one image token block per image in the batch.
const prompts = images.map(() => (batch === 1 ? 'caption en' : '<image>caption en'));
const inputs = batch === 1 ? await processor(images[0], prompts[0]) : await processor(images, prompts, { padding: true });
const ms = [];
for (let r = 0; r <= repeats; r++) {
  const t0 = performance.now();
  await model.generate({ ...inputs, max_new_tokens: maxNew, min_new_tokens: maxNew, do_sample: false });
  if (r > 0) ms.push(performance.now() - t0);
}
await model.dispose();
process.stdout.write(JSON.stringify({ batch, ms }) + '\n');
