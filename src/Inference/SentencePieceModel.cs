using System.Buffers.Binary;
using System.Text;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>SentencePiece piece kinds, as numbered in sentencepiece_model.proto.</summary>
public enum PieceType
{
    /// <summary>A learned piece.</summary>
    Normal = 1,

    /// <summary>The unknown piece.</summary>
    Unknown = 2,

    /// <summary>Control pieces such as <c>&lt;bos&gt;</c>; they decode to nothing.</summary>
    Control = 3,

    /// <summary>User-defined pieces (<c>\n</c>, whitespace runs, <c>&lt;locNNNN&gt;</c>, ...), matched atomically.</summary>
    UserDefined = 4,

    /// <summary>Unused pieces.</summary>
    Unused = 5,

    /// <summary>Byte-fallback pieces <c>&lt;0xNN&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>The piece table of a SentencePiece model: id to piece text and kind.</summary>
/// <remarks>
/// Read directly from the protobuf so decoding does not depend on what a tokenizer library chooses to
/// expose; only field 1 (repeated SentencePiece {piece, score, type}) is needed.
/// </remarks>
public sealed class SentencePieceModel
{
    private SentencePieceModel(string[] pieces, PieceType[] types)
    {
        Pieces = pieces;
        Types = types;
    }

    /// <summary>Piece text by id (whitespace shown as U+2581).</summary>
    public IReadOnlyList<string> Pieces { get; }

    /// <summary>Piece kind by id.</summary>
    public IReadOnlyList<PieceType> Types { get; }

    /// <summary>Parses a serialised ModelProto.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a SentencePiece model.</exception>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> model)
    {
        var pieces = new List<string>();
        var types = new List<PieceType>();
        var pos = 0;
        while (pos < model.Length)
        {
            var key = ReadVarint(model, ref pos);
            var field = (int)(key >> 3);
            var wire = (int)(key & 7);
            if (field == 1 && wire == 2)
            {
                var len = (int)ReadVarint(model, ref pos);
                var (piece, type) = ParsePiece(model.Slice(pos, len));
                pieces.Add(piece);
                types.Add(type);
                pos += len;
            }
            else
            {
                Skip(model, wire, ref pos);
            }
        }

        if (pieces.Count == 0)
        {
            throw new InvalidDataException("The SentencePiece model holds no pieces.");
        }

        return new SentencePieceModel([.. pieces], [.. types]);
    }

    private static (string Piece, PieceType Type) ParsePiece(ReadOnlySpan<byte> body)
    {
        var piece = string.Empty;
        var type = PieceType.Normal;
        var pos = 0;
        while (pos < body.Length)
        {
            var key = ReadVarint(body, ref pos);
            var field = (int)(key >> 3);
            var wire = (int)(key & 7);
            if (field == 1 && wire == 2)
            {
                var len = (int)ReadVarint(body, ref pos);
                piece = Encoding.UTF8.GetString(body.Slice(pos, len));
                pos += len;
            }
            else if (field == 3 && wire == 0)
            {
                type = (PieceType)(int)ReadVarint(body, ref pos);
            }
            else
            {
                Skip(body, wire, ref pos);
            }
        }

        return (piece, type);
    }

    private static void Skip(ReadOnlySpan<byte> buf, int wire, ref int pos)
    {
        switch (wire)
        {
            case 0:
                ReadVarint(buf, ref pos);
                break;
            case 1:
                pos += 8;
                break;
            case 2:
                var length = (int)ReadVarint(buf, ref pos); // read first: `pos +=` would add to the old pos
                pos += length;
                break;
            case 5:
                _ = BinaryPrimitives.ReadInt32LittleEndian(buf[pos..]);
                pos += 4;
                break;
            default:
                throw new InvalidDataException($"Unsupported protobuf wire type {wire}: not a SentencePiece model.");
        }

        if (pos > buf.Length)
        {
            throw new InvalidDataException("Truncated SentencePiece model.");
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> buf, ref int pos)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (pos >= buf.Length)
            {
                throw new InvalidDataException("Truncated SentencePiece model.");
            }

            var b = buf[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new InvalidDataException("Malformed varint in SentencePiece model.");
    }
}
