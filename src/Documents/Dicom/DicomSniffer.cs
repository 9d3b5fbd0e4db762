using System.Buffers.Binary;
using System.Text;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>The identifiers intake needs before a DICOM file is decoded; empty strings where not found.</summary>
public sealed record DicomIdentity(string SopClassUid, string SopInstanceUid, string StudyInstanceUid);

/// <summary>
/// Reads SOP Class, SOP Instance and Study Instance UIDs from the first bytes of a DICOM file without
/// GDCM, so intake (in the API and the drop folder) never runs a native parser on untrusted bytes.
/// A bounded walk over the data set's elements (little or big endian): it stops at anything it does
/// not expect and never throws on hostile input; the full header is read later, in the decoder sandbox.
/// </summary>
public static class DicomSniffer
{
    /// <summary>Bytes worth reading: the identifiers sit near the start of every real file.</summary>
    public const int HeadLength = 256 * 1024;

    private const uint SopClassTag = 0x0008_0016, SopInstanceTag = 0x0008_0018, StudyTag = 0x0020_000D;
    private const uint MetaSopClassTag = 0x0002_0002, MetaSopInstanceTag = 0x0002_0003, MetaSyntaxTag = 0x0002_0010;
    private const int MaxDepth = 8;

    /// <summary>Reads the identifiers from the start of a file.</summary>
    public static DicomIdentity Read(ReadOnlySpan<byte> head)
    {
        var found = new Dictionary<uint, string>();
        var offset = 0;
        var explicitVr = true;
        var bigEndian = false;
        if (head.Length >= 132 && head.Slice(128, 4).SequenceEqual("DICM"u8))
        {
            offset = 132;
            // The file meta group is always explicit VR little endian.
            offset = Walk(head, offset, explicitVr: true, bigEndian: false, depth: 0, found, stopAfterGroup2: true);
            var syntax = found.GetValueOrDefault(MetaSyntaxTag, "");
            if (syntax is "1.2.840.10008.1.2")
            {
                explicitVr = false;
            }
            else if (syntax is "1.2.840.10008.1.2.2")
            {
                bigEndian = true;
            }
            else if (syntax is "1.2.840.10008.1.2.1.99")
            {
                // A deflated data set: the meta group's UIDs have to do.
                offset = -1;
            }
        }
        else if (head.Length >= 6)
        {
            // A bare data set: explicit when bytes 4-5 look like a VR.
            explicitVr = char.IsAsciiLetterUpper((char)head[4]) && char.IsAsciiLetterUpper((char)head[5]);
        }

        if (offset >= 0 && offset < head.Length)
        {
            Walk(head, offset, explicitVr, bigEndian, depth: 0, found, stopAfterGroup2: false);
        }

        return new DicomIdentity(
            found.GetValueOrDefault(SopClassTag) ?? found.GetValueOrDefault(MetaSopClassTag, ""),
            found.GetValueOrDefault(SopInstanceTag) ?? found.GetValueOrDefault(MetaSopInstanceTag, ""),
            found.GetValueOrDefault(StudyTag, ""));
    }

    /// <summary>Reads the identifiers from a file on disk.</summary>
    public static DicomIdentity ReadFile(string path)
    {
        using var file = File.OpenRead(path);
        var head = new byte[(int)Math.Min(HeadLength, file.Length)];
        var read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return Read(head.AsSpan(0, read));
    }

    // Returns the offset after the last element read; -1 where the walk had to stop inside an element.
    private static int Walk(ReadOnlySpan<byte> data, int offset, bool explicitVr, bool bigEndian, int depth, Dictionary<uint, string> found, bool stopAfterGroup2)
    {
        while (offset + 8 <= data.Length)
        {
            var group = U16(data[offset..]);
            var element = U16(data[(offset + 2)..]);
            var tag = ((uint)group << 16) | element;
            if (stopAfterGroup2 && group != 0x0002)
            {
                return offset;
            }

            if (tag is 0xFFFE_E00D or 0xFFFE_E0DD)
            {
                // Item / sequence delimiter: the caller's level ends here.
                return offset + 8;
            }

            if (tag > StudyTag && depth == 0)
            {
                return offset;
            }

            int valueOffset;
            uint length;
            var isSequence = false;
            if (group == 0xFFFE || !explicitVr)
            {
                length = U32(data[(offset + 4)..]);
                valueOffset = offset + 8;
                isSequence = group != 0xFFFE && length == uint.MaxValue;
            }
            else
            {
                var vr = Encoding.ASCII.GetString(data.Slice(offset + 4, 2));
                if (vr is "OB" or "OW" or "OF" or "OD" or "OL" or "OV" or "SQ" or "SV" or "UC" or "UN" or "UR" or "UT" or "UV")
                {
                    if (offset + 12 > data.Length)
                    {
                        return -1;
                    }

                    length = U32(data[(offset + 8)..]);
                    valueOffset = offset + 12;
                    isSequence = vr is "SQ" || (vr is "UN" && length == uint.MaxValue);
                }
                else
                {
                    length = U16(data[(offset + 6)..]);
                    valueOffset = offset + 8;
                }
            }

            if (length == uint.MaxValue)
            {
                if (depth >= MaxDepth || (!isSequence && tag != 0xFFFE_E000))
                {
                    return -1;
                }

                // Undefined length (sequence or item): walk inside until its delimiter.
                var inner = Walk(data, valueOffset, explicitVr, bigEndian, depth + 1, new Dictionary<uint, string>(), stopAfterGroup2: false);
                if (inner < 0)
                {
                    return -1;
                }

                offset = inner;
                continue;
            }

            if (length > (uint)(data.Length - valueOffset))
            {
                return -1;
            }

            if (depth == 0 && tag is SopClassTag or SopInstanceTag or StudyTag or MetaSopClassTag or MetaSopInstanceTag or MetaSyntaxTag)
            {
                found[tag] = Encoding.ASCII.GetString(data.Slice(valueOffset, (int)length)).TrimEnd('\0', ' ').Trim();
            }

            offset = valueOffset + (int)length;
        }

        return offset;

        ushort U16(ReadOnlySpan<byte> b) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);
        uint U32(ReadOnlySpan<byte> b) => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
    }
}
