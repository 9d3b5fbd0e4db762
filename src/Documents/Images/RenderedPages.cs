using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PaliGemma2.DocPipeline.Documents.Images;

/// <summary>
/// Stores a renderer's page (binary PPM that mutool or pdftoppm wrote at the target size) as the page PNG
/// without an image library: PNG's <c>Up</c> filter and the runtime's native zlib at its fastest level. ImageSharp's
/// managed deflate was most of the preparation stage's time (docs/benchmarks.md); the renderers' own PNG writers
/// are slower still (zlib's default level).
/// </summary>
public static class RenderedPages
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] CrcTable = BuildCrcTable();

    // After the Up filter a page is mostly runs of zeros (white, rules) and short literals (glyph edges): zlib's
    // run-length strategy finds exactly those matches and skips the general match search.
    private static readonly ZLibCompressionOptions Deflate = new()
    {
        CompressionLevel = 1,
        CompressionStrategy = ZLibCompressionStrategy.RunLengthEncoding,
    };

    /// <summary>
    /// Writes <paramref name="ppm"/> as an 8-bit PNG (grey when every pixel is, else RGB) when it is a P6 image with maxval 255 whose long side is at
    /// most <paramref name="longSide"/>; returns null otherwise (the caller takes the general path).
    /// </summary>
    public static PreparedImage? TryWritePng(ReadOnlySpan<byte> ppm, int longSide, Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!TryParseHeader(ppm, out var width, out var height, out var offset)
            || Math.Max(width, height) > longSide
            || ppm.Length - offset < (long)width * height * 3)
        {
            return null;
        }

        var stride = width * 3;
        var pixels = ppm.Slice(offset, stride * height);
        var blank = IsUniform(pixels, stride);
        // Most document pages are grey (text, rules, scans): stored as 8-bit grey they deflate a third of the bytes,
        // and decode to the same RGB pixels.
        var grey = IsGrey(pixels);
        var rowBytes = grey ? width : stride;

        using var idat = new MemoryStream();
        var rows = ArrayPool<byte>.Shared.Rent((3 * rowBytes) + 1);
        try
        {
            var above = rows.AsSpan(0, rowBytes);
            var current = rows.AsSpan(rowBytes, rowBytes);
            var filtered = rows.AsSpan(2 * rowBytes, rowBytes + 1);
            above.Clear();
            filtered[0] = 2; // Up: each byte minus the one above; ruled and white rows become runs of zeros.
            using var zlib = new ZLibStream(idat, Deflate, leaveOpen: true);
            for (var y = 0; y < height; y++)
            {
                var row = pixels.Slice(y * stride, stride);
                if (grey)
                {
                    TakeFirstChannel(row, current);
                }
                else
                {
                    row.CopyTo(current);
                }

                Subtract(current, above, filtered[1..]);
                zlib.Write(filtered);
                current.CopyTo(above);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rows);
        }

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = (byte)(grey ? 0 : 2); // colour type grey or RGB; compression, filter method, interlace stay 0
        output.Write(Signature);
        WriteChunk(output, "IHDR"u8, ihdr);
        WriteChunk(output, "IDAT"u8, idat.GetBuffer().AsSpan(0, (int)idat.Length));
        WriteChunk(output, "IEND"u8, []);
        return new PreparedImage(width, height, blank);
    }

    private static bool TryParseHeader(ReadOnlySpan<byte> ppm, out int width, out int height, out int offset)
    {
        width = height = offset = 0;
        if (ppm.Length < 2 || ppm[0] != 'P' || ppm[1] != '6')
        {
            return false;
        }

        var position = 2;
        Span<int> values = stackalloc int[3];
        for (var i = 0; i < 3; i++)
        {
            while (position < ppm.Length && (IsSpace(ppm[position]) || ppm[position] == '#'))
            {
                if (ppm[position] == '#')
                {
                    while (position < ppm.Length && ppm[position] != '\n')
                    {
                        position++;
                    }
                }
                else
                {
                    position++;
                }
            }

            var start = position;
            while (position < ppm.Length && ppm[position] is >= (byte)'0' and <= (byte)'9' && position - start < 9)
            {
                values[i] = (values[i] * 10) + (ppm[position++] - '0');
            }

            if (position == start)
            {
                return false;
            }
        }

        // Exactly one whitespace byte separates maxval from the pixels.
        if (position >= ppm.Length || !IsSpace(ppm[position]) || values[2] != 255 || values[0] < 1 || values[1] < 1)
        {
            return false;
        }

        (width, height, offset) = (values[0], values[1], position + 1);
        return true;
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';

    // Every pixel equals the first: the first row repeats its first pixel, every row equals the first.
    private static bool IsUniform(ReadOnlySpan<byte> pixels, int stride)
    {
        var first = pixels[..stride];
        if (stride > 3 && !first[3..].SequenceEqual(first[..^3]))
        {
            return false;
        }

        for (var offset = stride; offset < pixels.Length; offset += stride)
        {
            if (!pixels.Slice(offset, stride).SequenceEqual(first))
            {
                return false;
            }
        }

        return true;
    }

    // R = G = B for every pixel. Pages in colour usually differ early (a logo, a coloured header), grey ones are read once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsGrey(ReadOnlySpan<byte> rgb)
    {
        for (var i = 0; i + 2 < rgb.Length; i += 3)
        {
            if (rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2])
            {
                return false;
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TakeFirstChannel(ReadOnlySpan<byte> rgb, Span<byte> grey)
    {
        for (var x = 0; x < grey.Length; x++)
        {
            grey[x] = rgb[3 * x];
        }
    }

    // Hot loops over every byte of every page: optimised from the first call rather than after tiering up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Subtract(ReadOnlySpan<byte> row, ReadOnlySpan<byte> above, Span<byte> result)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var rows = MemoryMarshal.Cast<byte, Vector<byte>>(row);
            var aboves = MemoryMarshal.Cast<byte, Vector<byte>>(above);
            var results = MemoryMarshal.Cast<byte, Vector<byte>>(result);
            for (var v = 0; v < rows.Length; v++)
            {
                results[v] = rows[v] - aboves[v];
            }

            i = rows.Length * Vector<byte>.Count;
        }

        for (; i < row.Length; i++)
        {
            result[i] = (byte)(row[i] - above[i]);
        }
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        var crc = Crc(Crc(0xFFFFFFFFu, type), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
