namespace PaliGemma2.DocPipeline.Documents;

/// <summary>Media types intake recognises, sniffed from content rather than trusted from names.</summary>
public static class MediaTypes
{
    /// <summary>PDF.</summary>
    public const string Pdf = "application/pdf";
    /// <summary>PNG.</summary>
    public const string Png = "image/png";
    /// <summary>JPEG.</summary>
    public const string Jpeg = "image/jpeg";
    /// <summary>TIFF.</summary>
    public const string Tiff = "image/tiff";
    /// <summary>DICOM Part 10 file (or a bare data set).</summary>
    public const string Dicom = "application/dicom";
    /// <summary>Anything else.</summary>
    public const string Unknown = "application/octet-stream";

    /// <summary>Bytes needed by <see cref="Sniff"/>.</summary>
    public const int SniffLength = 1024;

    /// <summary>Recognises a file by its first bytes.</summary>
    public static string Sniff(ReadOnlySpan<byte> head)
    {
        // Checked first: the 128-byte preamble may itself hold a TIFF header (dual-format files).
        if (head.Length >= 132 && head.Slice(128, 4).SequenceEqual("DICM"u8))
        {
            return Dicom;
        }

        // PDF readers accept the header anywhere in the first kilobyte.
        if (head.IndexOf("%PDF-"u8) >= 0)
        {
            return Pdf;
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']))
        {
            return Png;
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
        {
            return Jpeg;
        }

        if (head.StartsWith("II*\0"u8) || head.StartsWith("MM\0*"u8))
        {
            return Tiff;
        }

        // A data set without the Part 10 preamble starts with a group 0008 element in little endian.
        if (head.Length >= 8 && head[0] == 0x08 && head[1] == 0x00 && head[3] == 0x00)
        {
            return Dicom;
        }

        return Unknown;
    }

    /// <summary>Sniffs a file on disk.</summary>
    public static string SniffFile(string path)
    {
        Span<byte> head = stackalloc byte[SniffLength];
        using var file = File.OpenRead(path);
        var read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return Sniff(head[..read]);
    }
}
