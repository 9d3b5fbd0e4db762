using System.Runtime.CompilerServices;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Pure pixel arithmetic of the display pipeline, kept free of GDCM and ImageSharp for testing.</summary>
internal static class DicomPixelMath
{
    /// <summary>Expands native YBR_FULL_422 (Y0 Y1 Cb Cr per horizontal pixel pair) to Y Cb Cr per pixel.</summary>
    public static void ExpandYbr422(ReadOnlySpan<byte> source, Span<byte> destination, int columns, int rows)
    {
        var pairs = columns / 2;
        for (var y = 0; y < rows; y++)
        {
            var src = source.Slice(y * columns * 2, pairs * 4);
            var dst = destination.Slice(y * columns * 3, columns * 3);
            for (var p = 0; p < pairs; p++)
            {
                var s = src.Slice(p * 4, 4);
                var d = dst.Slice(p * 6, 6);
                d[0] = s[0];
                d[1] = s[2];
                d[2] = s[3];
                d[3] = s[1];
                d[4] = s[2];
                d[5] = s[3];
            }
        }
    }

    /// <summary>Maps a raw sample word to its stored value: High Bit alignment, Bits Stored mask, sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ToStored(uint raw, int shift, uint mask, int bitsStored, bool signed)
    {
        var value = (raw >> shift) & mask;
        if (signed && bitsStored < 32 && (value & (1u << (bitsStored - 1))) != 0)
        {
            return (int)value - (1 << bitsStored);
        }

        return (int)value;
    }

    /// <summary>
    /// The DICOM VOI function (PS3.3 C.11.2.1.2) to [0, 255] before rounding. LINEAR is the default;
    /// LINEAR_EXACT and SIGMOID are honoured when the file asks for them.
    /// </summary>
    public static double Window(double x, double center, double width, string function)
    {
        switch (function)
        {
            case "SIGMOID":
                return 255.0 / (1.0 + Math.Exp(-4.0 * (x - center) / width));
            case "LINEAR_EXACT":
                if (x <= center - width / 2)
                {
                    return 0;
                }

                return x > center + width / 2 ? 255 : ((x - center) / width + 0.5) * 255.0;
            default:
                if (width < 1)
                {
                    width = 1;
                }

                if (x <= center - 0.5 - (width - 1) / 2)
                {
                    return 0;
                }

                if (x > center - 0.5 + (width - 1) / 2)
                {
                    return 255;
                }

                return ((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0;
        }
    }

    /// <summary>Rounds to the nearest 8-bit value, clamping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte ToByte(double value)
    {
        if (!(value > 0))
        {
            return 0;
        }

        return value >= 255 ? (byte)255 : (byte)(value + 0.5);
    }

    /// <summary>YCbCr full range (PS3.3 C.7.6.3.1.2) to RGB, for one pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void YbrFullToRgb(byte y, byte cb, byte cr, Span<byte> rgb)
    {
        var cbs = cb - 128.0;
        var crs = cr - 128.0;
        rgb[0] = ToByte(y + 1.402 * crs);
        rgb[1] = ToByte(y - 0.344136 * cbs - 0.714136 * crs);
        rgb[2] = ToByte(y + 1.772 * cbs);
    }
}
