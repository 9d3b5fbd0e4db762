using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// Gemma / PaliGemma tokenizer: encodes with Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/>
/// and decodes through the piece table.
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
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly byte[]?[] _pieceBytes;
    private readonly int[] _byteValue;
    private readonly PieceMatcher _userPieces;

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
                    break; // decode to nothing, like SentencePiece
                case PieceType.Unknown:
                    _pieceBytes[id] = Encoding.UTF8.GetBytes(" \u2047 ");
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

    /// <summary>The piece table.</summary>
    public SentencePieceModel Model { get; }

    /// <summary>Number of pieces.</summary>
    public int VocabularySize => Model.Pieces.Count;

    /// <summary>Id of <c>&lt;bos&gt;</c> (2 in Gemma).</summary>
    public int BosId { get; }

    /// <summary>Id of <c>&lt;eos&gt;</c> (1 in Gemma).</summary>
    public int EosId { get; }

    /// <summary>Id of <c>&lt;pad&gt;</c> (0 in Gemma).</summary>
    public int PadId { get; }

    /// <summary>Id of <c>\n</c> (108 in Gemma).</summary>
    public int NewlineId { get; }

    /// <summary>Loads <c>tokenizer.model</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not a usable SentencePiece model.</exception>
    public static GemmaTokenizer Load(string tokenizerModelPath)
    {
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
        var ids = new List<int>(text.Length / 2);
        var span = text.AsSpan();
        var segmentStart = 0;
        var i = 0;
        while (i < span.Length)
        {
            var (length, id) = _userPieces.LongestMatch(span[i..]);
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
    /// Decodes ids through the piece table: control pieces vanish, byte pieces are joined into UTF-8,
    /// U+2581 becomes a space. Ids outside the table are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
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
            ids.AddRange(_tokenizer.EncodeToIds(text.AsSpan(start, length)));
        }
    }

    private int IdOf(string piece, int fallback)
    {
        for (var id = 0; id < Model.Pieces.Count; id++)
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
