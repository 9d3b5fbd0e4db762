using System.Text;
using System.Text.Json;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> of Gemma's kind: added tokens cut out first (leftmost, then longest),
/// a <c>Replace(" ", "\u2581")</c> normaliser, no pre-tokenizer, a BPE model with byte fallback, and the
/// <c>Replace / ByteFallback / Fuse</c> decoder.
/// </summary>
/// <remarks>
/// Anything else in the file (another normaliser, a pre-tokenizer, BPE dropout, subword prefixes) is refused
/// rather than approximated: a tokenizer that splits differently from the one the fine-tune saw changes every id.
/// </remarks>
public sealed class HfBpeTokenizer
{
    private const char Whitespace = '\u2581';
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly bool[] _special;
    private readonly int[] _byteIds = new int[256];
    private readonly int[] _byteValue;
    private readonly Dictionary<(string, string), int> _merges;
    private readonly PieceMatcher _added;
    private readonly PieceMatcher _addedNormalized;
    private readonly int _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;

    private HfBpeTokenizer(
        Dictionary<string, int> vocab, Dictionary<(string, string), int> merges, List<(string Content, int Id, bool Special, bool Normalized)> added,
        int unkId, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _merges = merges;
        _unkId = unkId;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        var size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        _idToToken = new string?[size];
        _special = new bool[size];
        _byteValue = new int[size];
        Array.Fill(_byteValue, -1);
        Array.Fill(_byteIds, -1);
        foreach (var (token, id) in vocab)
        {
            _idToToken[id] = token;
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var b))
            {
                _byteValue[id] = b;
                _byteIds[b] = id;
            }
        }

        foreach (var (content, id, special, _) in added)
        {
            _idToToken[id] = content;
            _special[id] = special;
        }

        // As HF: tokens marked normalized match the normalised text, the others the raw text.
        _added = new PieceMatcher(added.Where(a => !a.Normalized).Select(a => (a.Content, a.Id)));
        _addedNormalized = new PieceMatcher(added.Where(a => a.Normalized).Select(a => (a.Content, a.Id)));
    }

    /// <summary>Number of ids (vocabulary plus added tokens).</summary>
    public int VocabularySize => _idToToken.Length;

    /// <summary>The token text of an id (vocabulary form, with U+2581 for spaces), or null.</summary>
    public string? TokenOf(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>The id of a token (vocabulary or added), or -1.</summary>
    public int IdOf(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_vocab.TryGetValue(token, out var id))
        {
            return id;
        }

        for (var i = 0; i < _idToToken.Length; i++)
        {
            if (string.Equals(_idToToken[i], token, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Reads a <c>tokenizer.json</c>.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or uses a feature this tokenizer does not implement.</exception>
    public static HfBpeTokenizer Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        CheckNormalizer(root.TryGetProperty("normalizer", out var n) ? n : default);
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null)
        {
            throw new InvalidDataException($"{path}: pre_tokenizer {pre.GetRawText()} is not supported (Gemma's has none).");
        }

        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
        {
            throw new InvalidDataException($"{path}: model type {model.GetProperty("type").GetString()} is not BPE.");
        }

        foreach (var unsupported in new[] { "dropout", "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(unsupported, out var v) && v.ValueKind != JsonValueKind.Null)
            {
                throw new InvalidDataException($"{path}: BPE {unsupported} = {v.GetRawText()} is not supported.");
            }
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[p.Name] = p.Value.GetInt32();
        }

        var merges = new Dictionary<(string, string), int>();
        var rank = 0;
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            string a, b;
            if (m.ValueKind == JsonValueKind.Array)
            {
                a = m[0].GetString()!;
                b = m[1].GetString()!;
            }
            else
            {
                var text = m.GetString()!;
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                (a, b) = (text[..space], text[(space + 1)..]);
            }

            merges.TryAdd((a, b), rank++);
        }

        var added = new List<(string, int, bool, bool)>();
        if (root.TryGetProperty("added_tokens", out var at))
        {
            foreach (var t in at.EnumerateArray())
            {
                if (Flag(t, "lstrip") || Flag(t, "rstrip") || Flag(t, "single_word"))
                {
                    throw new InvalidDataException($"{path}: added token {t.GetRawText()} strips or matches single words; not supported (Gemma's do neither).");
                }

                added.Add((t.GetProperty("content").GetString()!, t.GetProperty("id").GetInt32(), Flag(t, "special"), Flag(t, "normalized")));
            }
        }

        var unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String && vocab.TryGetValue(u.GetString()!, out var unkId) ? unkId : -1;
        return new HfBpeTokenizer(
            vocab, merges, added, unk,
            Flag(model, "fuse_unk"), Flag(model, "byte_fallback"), Flag(model, "ignore_merges"));
    }

    /// <summary>Encodes text without <c>&lt;bos&gt;</c> (Gemma's tokenizer.json has no post-processor that adds it).</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2);
        var span = text.AsSpan();
        var start = 0;
        var i = 0;
        while (i < span.Length)
        {
            var (length, id) = _added.LongestMatch(span[i..]);
            if (length == 0)
            {
                i++;
                continue;
            }

            EncodeWord(span[start..i], ids);
            ids.Add(id);
            i += length;
            start = i;
        }

        EncodeWord(span[start..], ids);
        return ids;
    }

    /// <summary>
    /// Decodes like <c>decode(ids, skip_special_tokens=True)</c>: special added tokens vanish, runs of byte tokens
    /// become UTF-8 text with invalid sequences replaced as a TextDecoder does (transformers.js; the Rust
    /// library writes one U+FFFD per byte instead).
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_idToToken.Length || _special[id] || _idToToken[id] is not { } token)
            {
                continue;
            }

            if (_byteValue[id] >= 0)
            {
                bytes.Add((byte)_byteValue[id]);
                continue;
            }

            FlushBytes(bytes, sb);
            sb.Append(token.Replace(Whitespace, ' '));
        }

        FlushBytes(bytes, sb);
        return sb.ToString();
    }

    private static void FlushBytes(List<byte> bytes, StringBuilder sb)
    {
        if (bytes.Count > 0)
        {
            sb.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
            bytes.Clear();
        }
    }

    private void EncodeWord(ReadOnlySpan<char> raw, List<int> ids)
    {
        if (raw.IsEmpty)
        {
            return;
        }

        var normalized = raw.ToString().Replace(' ', Whitespace);
        var span = normalized.AsSpan();
        var start = 0;
        var i = 0;
        while (i < span.Length)
        {
            var (length, id) = _addedNormalized.LongestMatch(span[i..]);
            if (length == 0)
            {
                i++;
                continue;
            }

            Bpe(normalized[start..i], ids);
            ids.Add(id);
            i += length;
            start = i;
        }

        Bpe(normalized[start..], ids);
    }

    /// <summary>
    /// BPE over the word's characters (one per Unicode scalar; a lone surrogate is one too), lowest merge rank
    /// first and leftmost among equals; then each resulting token by id, else its UTF-8 bytes as
    /// <c>&lt;0xNN&gt;</c> tokens, else <c>&lt;unk&gt;</c>. Merges work on strings, as HF's BPE does.
    /// </summary>
    private void Bpe(string word, List<int> ids)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (_ignoreMerges && _vocab.TryGetValue(word, out var whole))
        {
            ids.Add(whole);
            return;
        }

        var symbols = Merge(word);
        var lastWasUnk = false;
        foreach (var symbol in symbols)
        {
            if (_vocab.TryGetValue(symbol, out var id))
            {
                ids.Add(id);
                lastWasUnk = false;
            }
            else if (_byteFallback && ByteIds(symbol) is { } byteIds)
            {
                ids.AddRange(byteIds);
                lastWasUnk = false;
            }
            else if (_unkId < 0)
            {
                throw new InvalidOperationException($"'{symbol}' is not in the vocabulary and the tokenizer has no <unk>.");
            }
            else if (!(_fuseUnk && lastWasUnk))
            {
                ids.Add(_unkId);
                lastWasUnk = true;
            }
        }
    }

    // A linked list of symbols and a queue of mergeable neighbours ordered by (rank, original position of the
    // left symbol): a merge replaces both symbols and the left neighbour with new nodes, so queued pairs that
    // no longer exist are recognised by a deleted node and skipped (transformers.js's scheme).
    private List<string> Merge(string word)
    {
        var capacity = word.Length * 3;
        var token = new List<string>(capacity);
        var pos = new List<int>(capacity);
        var prev = new List<int>(capacity);
        var next = new List<int>(capacity);
        var deleted = new List<bool>(capacity);
        int Add(string t, int p, int before, int after)
        {
            token.Add(t);
            pos.Add(p);
            prev.Add(before);
            next.Add(after);
            deleted.Add(false);
            return token.Count - 1;
        }

        var queue = new PriorityQueue<int, (int Rank, int Pos)>();
        void Enqueue(int node)
        {
            if (next[node] >= 0 && _merges.TryGetValue((token[node], token[next[node]]), out var rank))
            {
                queue.Enqueue(node, (rank, pos[node]));
            }
        }

        var previous = -1;
        for (var i = 0; i < word.Length; i += char.IsSurrogatePair(word, i) ? 2 : 1)
        {
            var node = Add(word.Substring(i, char.IsSurrogatePair(word, i) ? 2 : 1), token.Count, previous, -1);
            if (previous >= 0)
            {
                next[previous] = node;
            }

            previous = node;
        }

        var first = 0;
        for (var n = 0; n < token.Count; n++)
        {
            Enqueue(n);
        }

        while (queue.TryDequeue(out var left, out _))
        {
            var right = next[left];
            if (deleted[left] || right < 0 || deleted[right])
            {
                continue;
            }

            deleted[left] = deleted[right] = true;
            var before = prev[left];
            if (before >= 0)
            {
                deleted[before] = true;
                var copy = Add(token[before], pos[before], prev[before], -1);
                if (prev[before] >= 0)
                {
                    next[prev[before]] = copy;
                }
                else
                {
                    first = copy;
                }

                before = copy;
            }

            var merged = Add(token[left] + token[right], pos[left], before, next[right]);
            if (before >= 0)
            {
                next[before] = merged;
                Enqueue(before);
            }
            else
            {
                first = merged;
            }

            if (next[merged] >= 0)
            {
                prev[next[merged]] = merged;
                Enqueue(merged);
            }
        }

        var result = new List<string>();
        for (var n = first; n >= 0; n = next[n])
        {
            result.Add(token[n]);
        }

        return result;
    }

    private int[]? ByteIds(string ch)
    {
        var utf8 = Encoding.UTF8.GetBytes(ch);
        var result = new int[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            if ((result[i] = _byteIds[utf8[i]]) < 0)
            {
                return null;
            }
        }

        return result;
    }

    private static bool Flag(JsonElement e, string name) => e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.True;

    private static void CheckNormalizer(JsonElement n)
    {
        if (n.ValueKind == JsonValueKind.Object
            && n.GetProperty("type").GetString() == "Replace"
            && n.TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("String", out var from) && from.GetString() == " "
            && n.TryGetProperty("content", out var to) && to.GetString() == "\u2581")
        {
            return;
        }

        throw new InvalidDataException($"normalizer {(n.ValueKind == JsonValueKind.Undefined ? "(none)" : n.GetRawText())} is not Gemma's Replace(' ', '\u2581').");
    }
}
