using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// Gemma / PaliGemma tokenizer from a checkpoint's <c>tokenizer.json</c> (HF BPE with byte fallback, see
/// <see cref="HfBpeTokenizer"/>) or <c>tokenizer.model</c> (encoded with Microsoft.ML.Tokenizers'
/// <see cref="SentencePieceTokenizer"/>, decoded through the piece table).
/// </summary>
/// <remarks>
/// Every user-defined piece (<c>\n</c>, whitespace runs, <c>&lt;locNNNN&gt;</c>, <c>&lt;segNNN&gt;</c>, ...)
/// is registered in a longest-match table and cut out before the library sees the text, so it stays
/// atomic, as SentencePiece's prefix matcher keeps it. The library's own special-token matching is not
/// used for this: it matches in the order the tokens were given, not the longest one. Decoding does not
/// use the library either, because its Decode drops user-defined pieces such as <c>\n</c> (id 108).
/// </remarks>
public sealed class GemmaTokenizer
{
    private const char Whitespace = '\u2581';
    private readonly SentencePieceTokenizer? _tokenizer;
    private readonly HfBpeTokenizer? _hf;
    private readonly byte[]?[] _pieceBytes = [];
    private readonly int[] _byteValue = [];
    private readonly PieceMatcher? _userPieces;

    private GemmaTokenizer(HfBpeTokenizer hf)
    {
        _hf = hf;
        BosId = IdOf("<bos>", 2);
        EosId = IdOf("<eos>", 1);
        PadId = IdOf("<pad>", 0);
        NewlineId = IdOf("\n", 108);
    }

    private GemmaTokenizer(SentencePieceTokenizer tokenizer, SentencePieceModel model)
    {
        _tokenizer = tokenizer;
        Model = model;
        var count = model.Pieces.Count;
        _pieceBytes = new byte[count][];
        _byteValue = new int[count];
        for (var id = 0; id < count; id++)
        {
            _byteValue[id] = -1;
            var piece = model.Pieces[id];
            switch (model.Types[id])
            {
                case PieceType.Byte:
                    _byteValue[id] = int.Parse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    break;
                case PieceType.Control:
                case PieceType.Unused:
                case PieceType.Unknown:
                    // Nothing, as HF's decode(skip_special_tokens=True) drops <pad>, <eos>, <bos> and <unk>
                    // (SentencePiece itself would print " \u2047 " for <unk>).
                    break;
                default:
                    _pieceBytes[id] = Encoding.UTF8.GetBytes(piece.Replace(Whitespace, ' '));
                    break;
            }
        }

        _userPieces = new PieceMatcher(Enumerable.Range(0, count)
            .Where(id => model.Types[id] == PieceType.UserDefined)
            .Select(id => (model.Pieces[id].Replace(Whitespace, ' '), id)));
        BosId = IdOf("<bos>", 2);
        EosId = IdOf("<eos>", 1);
        PadId = IdOf("<pad>", 0);
        NewlineId = IdOf("\n", 108);
    }

    /// <summary>The SentencePiece piece table, when loaded from <c>tokenizer.model</c>.</summary>
    public SentencePieceModel? Model { get; }

    /// <summary>Which file the tokenizer was loaded from: <c>tokenizer.json</c> or <c>tokenizer.model</c>.</summary>
    public string Source => _hf is not null ? "tokenizer.json" : "tokenizer.model";

    /// <summary>Number of ids.</summary>
    public int VocabularySize => _hf?.VocabularySize ?? Model!.Pieces.Count;

    /// <summary>Id of <c>&lt;bos&gt;</c> (2 in Gemma).</summary>
    public int BosId { get; }

    /// <summary>Id of <c>&lt;eos&gt;</c> (1 in Gemma).</summary>
    public int EosId { get; }

    /// <summary>Id of <c>&lt;pad&gt;</c> (0 in Gemma).</summary>
    public int PadId { get; }

    /// <summary>Id of <c>\n</c> (108 in Gemma).</summary>
    public int NewlineId { get; }

    /// <summary>
    /// Loads a checkpoint's tokenizer: <c>tokenizer.json</c> when present (what HF's fast tokenizer and
    /// transformers.js use), else <c>tokenizer.model</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither file exists.</exception>
    /// <exception cref="InvalidDataException">The file is not a usable tokenizer.</exception>
    public static GemmaTokenizer LoadFrom(string directory)
    {
        var json = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(json))
        {
            return Load(json);
        }

        var model = Path.Combine(directory, "tokenizer.model");
        return File.Exists(model) ? Load(model) : throw new FileNotFoundException($"'{directory}' has neither tokenizer.json nor tokenizer.model.");
    }

    /// <summary>Loads <c>tokenizer.json</c> (by extension) or a SentencePiece <c>tokenizer.model</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not a usable tokenizer.</exception>
    public static GemmaTokenizer Load(string tokenizerModelPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerModelPath);
        if (tokenizerModelPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new GemmaTokenizer(HfBpeTokenizer.Load(tokenizerModelPath));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new InvalidDataException($"{tokenizerModelPath}: {ex.Message}", ex);
            }
        }

        var bytes = File.ReadAllBytes(tokenizerModelPath);
        var model = SentencePieceModel.Parse(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        var tokenizer = SentencePieceTokenizer.Create(stream, false, false, null);
        return new GemmaTokenizer(tokenizer, model);
    }

    /// <summary>Encodes text to ids without <c>&lt;bos&gt;</c>/<c>&lt;eos&gt;</c>.</summary>
    /// <remarks>
    /// User-defined pieces are cut out first, longest match at each position, exactly as SentencePiece's
    /// prefix matcher freezes them; the text between them goes to the library tokenizer. BPE merges never
    /// cross a frozen piece, so encoding the gaps separately gives SentencePiece's ids. Control pieces
    /// such as "&lt;bos&gt;" are not matched in text (SentencePiece treats them as plain characters).
    /// </remarks>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_hf is not null)
        {
            return _hf.Encode(text);
        }

        var ids = new List<int>(text.Length / 2);
        var span = text.AsSpan();
        var segmentStart = 0;
        var i = 0;
        while (i < span.Length)
        {
            var (length, id) = _userPieces!.LongestMatch(span[i..]);
            if (length == 0)
            {
                i++;
                continue;
            }

            EncodeSegment(text, segmentStart, i - segmentStart, ids);
            ids.Add(id);
            i += length;
            segmentStart = i;
        }

        EncodeSegment(text, segmentStart, span.Length - segmentStart, ids);
        return ids;
    }

    /// <summary>
    /// Decodes ids as HF's <c>decode(ids, skip_special_tokens=True)</c>: control pieces and <c>&lt;unk&gt;</c>
    /// vanish, byte pieces are joined into UTF-8, U+2581 becomes a space. Ids outside the table are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (_hf is not null)
        {
            return _hf.Decode(ids);
        }

        var buffer = new List<byte>(64);
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_pieceBytes.Length)
            {
                continue;
            }

            if (_byteValue[id] >= 0)
            {
                buffer.Add((byte)_byteValue[id]);
            }
            else if (_pieceBytes[id] is { } bytes)
            {
                buffer.AddRange(bytes);
            }
        }

        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer));
    }

    private void EncodeSegment(string text, int start, int length, List<int> ids)
    {
        if (length > 0)
        {
            ids.AddRange(_tokenizer!.EncodeToIds(text.AsSpan(start, length)));
        }
    }

    /// <summary>The token text of an id (U+2581 for spaces), or null outside the vocabulary.</summary>
    public string? TokenOf(int id) => _hf is not null ? _hf.TokenOf(id) : (uint)id < (uint)Model!.Pieces.Count ? Model.Pieces[id] : null;

    private int IdOf(string piece, int fallback)
    {
        if (_hf is not null)
        {
            var id = _hf.IdOf(piece);
            return id >= 0 ? id : fallback;
        }

        for (var id = 0; id < Model!.Pieces.Count; id++)
        {
            if (string.Equals(Model.Pieces[id], piece, StringComparison.Ordinal))
            {
                return id;
            }
        }

        return fallback;
    }
}

/// <summary>Longest-prefix lookup over the user-defined pieces, bucketed by first character.</summary>
internal sealed class PieceMatcher
{
    private readonly Dictionary<char, (string Text, int Id)[]> _byFirst;

    public PieceMatcher(IEnumerable<(string Text, int Id)> pieces)
    {
        _byFirst = pieces
            .Where(p => p.Text.Length > 0)
            .GroupBy(p => p.Text[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Text.Length).ToArray());
    }

    public (int Length, int Id) LongestMatch(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || !_byFirst.TryGetValue(text[0], out var candidates))
        {
            return (0, -1);
        }

        foreach (var (piece, id) in candidates)
        {
            if (text.StartsWith(piece, StringComparison.Ordinal))
            {
                return (piece.Length, id);
            }
        }

        return (0, -1);
    }
}
