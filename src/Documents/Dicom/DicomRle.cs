using System.Buffers.Binary;
using System.Globalization;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// RLE Lossless (PS3.5 Annex G) decoded by our own code where GDCM gets it wrong: 16-bit RGB, whose bytes GDCM
/// hands back mixed across the three channels (dcmtk's dcmdrle and pydicom agree with each other, not with GDCM).
/// </summary>
internal static class DicomRle
{
    public const string TransferSyntax = "1.2.840.10008.1.2.5";

    /// <summary>Whether this file takes our decoder instead of GDCM's.</summary>
    public static bool Applies(DicomHeader header) =>
        header.TransferSyntaxUid == TransferSyntax && header.BitsAllocated == 16 && header.SamplesPerPixel == 3;

    /// <summary>All frames, pixel-interleaved little-endian samples (R G B per pixel, planar configuration 0).</summary>
    public static byte[] Decode(gdcm.DataSet dataSet, DicomHeader header)
    {
        using var tag = new gdcm.Tag(0x7FE0, 0x0010);
        using var element = dataSet.GetDataElement(tag);
        using var fragments = element.GetSequenceOfFragments()
            ?? throw new DicomRejectedException(DicomRejection.Corrupt, "RLE pixel data is not encapsulated");
        var count = (int)fragments.GetNumberOfFragments();
        var frames = header.NumberOfFrames;
        var bytesPerSample = header.BitsAllocated / 8;
        var pixels = header.Rows * header.Columns;
        var frameBytes = pixels * header.SamplesPerPixel * bytesPerSample;
        var output = GC.AllocateUninitializedArray<byte>(checked(frameBytes * frames));

        // One fragment per frame (PS3.5 A.4.2); a single frame split over fragments is joined, as readers do.
        if (count != frames && frames != 1)
        {
            throw new DicomRejectedException(DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"RLE pixel data has {count} fragments for {frames} frames"));
        }

        var segment = new byte[pixels];
        for (var frame = 0; frame < frames; frame++)
        {
            var data = frames == 1 ? Joined(fragments, count) : Fragment(fragments, frame);
            var segments = Segments(data, header.SamplesPerPixel * bytesPerSample);
            var destination = output.AsSpan(frame * frameBytes, frameBytes);
            for (var s = 0; s < segments.Length; s++)
            {
                Unpack(segments[s].Span, segment);
                // Segment s holds byte (bytesPerSample - 1 - s % bytesPerSample) (most significant first) of sample s / bytesPerSample.
                var sample = s / bytesPerSample;
                var byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
                var position = (sample * bytesPerSample) + byteInSample;
                var step = header.SamplesPerPixel * bytesPerSample;
                for (var p = 0; p < pixels; p++, position += step)
                {
                    destination[position] = segment[p];
                }
            }
        }

        return output;
    }

    private static ReadOnlyMemory<byte>[] Segments(byte[] data, int expected)
    {
        if (data.Length < 64)
        {
            throw new DicomRejectedException(DicomRejection.Corrupt, "RLE frame shorter than its 64-byte header");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (count != expected)
        {
            throw new DicomRejectedException(DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"RLE frame has {count} segments, {expected} expected"));
        }

        var segments = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            var start = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4 + (4 * i)));
            var end = i + 1 < count ? BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(8 + (4 * i))) : data.Length;
            if (start < 64 || end < start || end > data.Length)
            {
                throw new DicomRejectedException(DicomRejection.Corrupt, "RLE segment offsets point outside the frame");
            }

            segments[i] = data.AsMemory(start, end - start);
        }

        return segments;
    }

    // PackBits (PS3.5 G.3.1): n >= 0 copies n + 1 literal bytes, -127..-1 repeats the next byte 1 - n times, -128 is nothing.
    private static void Unpack(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var (i, o) = (0, 0);
        while (o < destination.Length && i < source.Length)
        {
            var n = (sbyte)source[i++];
            if (n >= 0)
            {
                var length = Math.Min(n + 1, Math.Min(destination.Length - o, source.Length - i));
                source.Slice(i, length).CopyTo(destination[o..]);
                (i, o) = (i + n + 1, o + length);
            }
            else if (n != -128 && i < source.Length)
            {
                var length = Math.Min(1 - n, destination.Length - o);
                destination.Slice(o, length).Fill(source[i++]);
                o += length;
            }
        }

        if (o < destination.Length)
        {
            throw new DicomRejectedException(DicomRejection.Corrupt, "RLE segment ends before the frame is filled (truncated)");
        }
    }

    private static byte[] Fragment(gdcm.SequenceOfFragments fragments, int index)
    {
        using var fragment = fragments.GetFragment((uint)index);
        using var value = fragment.GetByteValue();
        if (value is null)
        {
            return [];
        }

        uint length = value.GetLength();
        var buffer = new byte[length];
        return length == 0 || value.GetBuffer(buffer, length) ? buffer
            : throw new DicomRejectedException(DicomRejection.Corrupt, "RLE fragment could not be read");
    }

    private static byte[] Joined(gdcm.SequenceOfFragments fragments, int count) =>
        count == 1 ? Fragment(fragments, 0) : [.. Enumerable.Range(0, count).SelectMany(i => Fragment(fragments, i))];
}
