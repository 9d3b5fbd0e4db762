using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// A decoded DICOM image: its header and every frame's samples, with the display pipeline to 8-bit RGB
/// (stored-value masking and sign, Modality LUT, VOI, MONOCHROME1 inversion, PALETTE COLOR, YBR to RGB,
/// planar configuration). Frames are independent pages. Instances are immutable and thread-safe.
/// </summary>
public sealed class DicomFile
{
    private readonly byte[] _pixels;
    private readonly DicomLookupTable? _modalityLut;
    private readonly DicomLookupTable? _voiLut;
    private readonly PaletteTables? _palette;
    private readonly int _planar;

    internal DicomFile(DicomHeader header, byte[] pixels, string decodedPhotometric, int planar, DicomLookupTable? modalityLut, DicomLookupTable? voiLut, PaletteTables? palette)
    {
        _modalityLut = modalityLut;
        Header = header;
        _pixels = pixels;
        DecodedPhotometricInterpretation = decodedPhotometric;
        _planar = planar;
        _voiLut = voiLut;
        _palette = palette;
    }

    /// <summary>The typed header.</summary>
    public DicomHeader Header { get; }

    /// <summary>Number of frames (pages).</summary>
    public int FrameCount => Header.NumberOfFrames;

    /// <summary>
    /// The colour space of the decoded samples, which can differ from the file's: codecs undo JPEG 2000's
    /// ICT/RCT (RGB) and 4:2:2 subsampling is expanded (YBR_FULL).
    /// </summary>
    public string DecodedPhotometricInterpretation { get; }

    /// <summary>Samples in one frame: Rows × Columns × SamplesPerPixel.</summary>
    public int SamplesPerFrame => Header.Rows * Header.Columns * Header.SamplesPerPixel;

    private bool IsMonochrome => DecodedPhotometricInterpretation is "MONOCHROME1" or "MONOCHROME2";

    /// <summary>
    /// The stored values of a frame (High Bit aligned, masked to Bits Stored, sign-extended), colour by pixel
    /// whatever the Planar Configuration: [R0 G0 B0 R1 ...] or [Y0 Cb0 Cr0 ...] in <see cref="DecodedPhotometricInterpretation"/>.
    /// </summary>
    public int[] GetStoredValues(int frame)
    {
        var values = new int[SamplesPerFrame];
        CopyStoredValues(frame, values);
        return values;
    }

    /// <summary>Writes the stored values of a frame into <paramref name="destination"/> (see <see cref="GetStoredValues"/>).</summary>
    public void CopyStoredValues(int frame, Span<int> destination)
    {
        CheckFrame(frame);
        var samples = SamplesPerFrame;
        if (destination.Length < samples)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"destination holds {destination.Length} values, {samples} needed"), nameof(destination));
        }

        var h = Header;
        var shift = h.HighBit + 1 - h.BitsStored;
        var mask = h.BitsStored >= 32 ? uint.MaxValue : (1u << h.BitsStored) - 1;
        var signed = h.PixelRepresentation == 1;
        var spp = h.SamplesPerPixel;
        var planar = spp > 1 && _planar == 1;
        var pixelsPerFrame = h.Rows * h.Columns;
        var dst = destination[..samples];

        switch (h.BitsAllocated)
        {
            case 1:
            {
                long firstBit = (long)frame * samples;
                for (var i = 0; i < samples; i++)
                {
                    var bit = firstBit + i;
                    dst[i] = (_pixels[bit >> 3] >> (int)(bit & 7)) & 1;
                }

                return;
            }

            case 8:
            {
                var src = _pixels.AsSpan(frame * samples, samples);
                for (var i = 0; i < samples; i++)
                {
                    dst[Target(i)] = DicomPixelMath.ToStored(src[i], shift, mask, h.BitsStored, signed);
                }

                return;
            }

            case 16:
            {
                var src = MemoryMarshal.Cast<byte, ushort>(_pixels.AsSpan(frame * samples * 2, samples * 2));
                for (var i = 0; i < samples; i++)
                {
                    dst[Target(i)] = DicomPixelMath.ToStored(src[i], shift, mask, h.BitsStored, signed);
                }

                return;
            }

            default:
            {
                var src = _pixels.AsSpan(frame * samples * 4, samples * 4);
                for (var i = 0; i < samples; i++)
                {
                    dst[Target(i)] = DicomPixelMath.ToStored(BinaryPrimitives.ReadUInt32LittleEndian(src[(i * 4)..]), shift, mask, h.BitsStored, signed);
                }

                return;
            }
        }

        // Colour-by-plane input (RRR..GGG..BBB) lands colour-by-pixel.
        int Target(int i) => planar ? (i % pixelsPerFrame * spp) + (i / pixelsPerFrame) : i;
    }

    /// <summary>Renders a frame to 8-bit RGB at full resolution with the file's own VOI (or min-max).</summary>
    public Image<Rgb24> Render(int frame) => Render(frame, null);

    /// <summary>
    /// Renders a frame to 8-bit RGB at full resolution. <paramref name="window"/> overrides the file's
    /// VOI for monochrome images; null uses the VOI LUT Sequence, else the first window, else min-max.
    /// </summary>
    public Image<Rgb24> Render(int frame, DicomWindow? window)
    {
        CheckFrame(frame);
        if (!IsMonochrome)
        {
            return RenderColour(frame);
        }

        using var gray = RenderGray(frame, window);
        return gray.CloneAs<Rgb24>();
    }

    /// <summary>
    /// Renders a frame for a model input: aspect-preserving resize so the longer side is
    /// <paramref name="size"/>, unpadded (the inference preprocessor fits it as the checkpoint declares).
    /// </summary>
    public Image<Rgb24> RenderLongSide(int frame, int size) => RenderLongSide(frame, size, null);

    /// <summary>As <see cref="RenderLongSide(int, int)"/>, with an optional VOI window override.</summary>
    public Image<Rgb24> RenderLongSide(int frame, int size, DicomWindow? window)
    {
        CheckFrame(frame);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (!IsMonochrome)
        {
            using var colour = RenderColour(frame);
            return DicomImageOps.ResizeLongSide(colour, size);
        }

        // Resizing the single-channel image costs a third of resizing RGB; widen afterwards.
        using var gray = RenderGray(frame, window);
        using var fitted = DicomImageOps.ResizeLongSide(gray, size);
        return fitted.CloneAs<Rgb24>();
    }

    /// <summary>Renders a monochrome frame to 8-bit grey (same pipeline as <see cref="Render(int, DicomWindow?)"/>).</summary>
    public Image<L8> RenderGray(int frame, DicomWindow? window)
    {
        CheckFrame(frame);
        if (!IsMonochrome)
        {
            throw new InvalidOperationException($"frame is {DecodedPhotometricInterpretation}, not monochrome");
        }

        var h = Header;
        var columns = h.Columns;
        var image = new Image<L8>(columns, h.Rows);
        var pixelsPerFrame = h.Rows * columns;

        if (h.BitsAllocated is 8 or 16)
        {
            // Fast path: every possible raw word maps through one table that folds masking, sign,
            // Modality LUT, VOI and MONOCHROME1 inversion; then one lookup per pixel.
            var (min, max) = StoredRange(frame);
            var lut = BuildMonochromeLut(window, min, max);
            var wide = h.BitsAllocated == 16;
            var offset = frame * pixelsPerFrame * (wide ? 2 : 1);
            var pixels = _pixels;
            image.ProcessPixelRows(accessor =>
            {
                for (var y = 0; y < accessor.Height; y++)
                {
                    var row = MemoryMarshal.AsBytes(accessor.GetRowSpan(y));
                    if (wide)
                    {
                        var src = MemoryMarshal.Cast<byte, ushort>(pixels.AsSpan(offset + y * columns * 2, columns * 2));
                        for (var x = 0; x < src.Length; x++)
                        {
                            row[x] = lut[src[x]];
                        }
                    }
                    else
                    {
                        var src = pixels.AsSpan(offset + y * columns, columns);
                        for (var x = 0; x < src.Length; x++)
                        {
                            row[x] = lut[src[x]];
                        }
                    }
                }
            });
            return image;
        }

        // 1-bit (segmentations) and 32-bit samples: through stored values, still one pass.
        var stored = ArrayPool<int>.Shared.Rent(pixelsPerFrame);
        try
        {
            CopyStoredValues(frame, stored);
            var values = stored.AsSpan(0, pixelsPerFrame);
            var minValue = int.MaxValue;
            var maxValue = int.MinValue;
            foreach (var v in values)
            {
                minValue = Math.Min(minValue, v);
                maxValue = Math.Max(maxValue, v);
            }

            var map = CreateMapper(window, minValue, maxValue);
            image.ProcessPixelRows(accessor =>
            {
                for (var y = 0; y < accessor.Height; y++)
                {
                    var row = MemoryMarshal.AsBytes(accessor.GetRowSpan(y));
                    var src = stored.AsSpan(y * columns, columns);
                    for (var x = 0; x < src.Length; x++)
                    {
                        row[x] = map(src[x]);
                    }
                }
            });
            return image;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(stored);
        }
    }

    private void CheckFrame(int frame)
    {
        if (_pixels.Length == 0)
        {
            throw new InvalidOperationException("header-only file: pixel data was not decoded");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(frame);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(frame, FrameCount);
    }

    /// <summary>Min and max stored value of a frame (for min-max VOI), over raw 8/16-bit words.</summary>
    private (int Min, int Max) StoredRange(int frame)
    {
        var h = Header;
        var pixelsPerFrame = h.Rows * h.Columns;
        var shift = h.HighBit + 1 - h.BitsStored;
        var mask = (1u << h.BitsStored) - 1;
        var signed = h.PixelRepresentation == 1;

        // Which raw words occur, then the stored range over those: masking and sign per distinct word only.
        var wordCount = h.BitsAllocated == 16 ? 65_536 : 256;
        var seen = ArrayPool<bool>.Shared.Rent(wordCount);
        try
        {
            Array.Clear(seen, 0, wordCount);
            if (h.BitsAllocated == 16)
            {
                var src = MemoryMarshal.Cast<byte, ushort>(_pixels.AsSpan(frame * pixelsPerFrame * 2, pixelsPerFrame * 2));
                foreach (var w in src)
                {
                    seen[w] = true;
                }
            }
            else
            {
                foreach (var w in _pixels.AsSpan(frame * pixelsPerFrame, pixelsPerFrame))
                {
                    seen[w] = true;
                }
            }

            var min = int.MaxValue;
            var max = int.MinValue;
            for (var w = 0; w < wordCount; w++)
            {
                if (seen[w])
                {
                    var v = DicomPixelMath.ToStored((uint)w, shift, mask, h.BitsStored, signed);
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
            }

            return (min, max);
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(seen);
        }
    }

    private byte[] BuildMonochromeLut(DicomWindow? window, int minStored, int maxStored)
    {
        var h = Header;
        var shift = h.HighBit + 1 - h.BitsStored;
        var mask = (1u << h.BitsStored) - 1;
        var signed = h.PixelRepresentation == 1;
        var map = CreateMapper(window, minStored, maxStored);
        var lut = new byte[h.BitsAllocated == 16 ? 65_536 : 256];
        for (var w = 0; w < lut.Length; w++)
        {
            lut[w] = map(DicomPixelMath.ToStored((uint)w, shift, mask, h.BitsStored, signed));
        }

        return lut;
    }

    /// <summary>Stored value → display byte: Modality LUT, VOI, MONOCHROME1 inversion.</summary>
    private Func<int, byte> CreateMapper(DicomWindow? window, int minStored, int maxStored)
    {
        var h = Header;
        var slope = h.RescaleSlope;
        var intercept = h.RescaleIntercept;
        var modalityLut = _modalityLut;

        // Modality LUT Sequence replaces the rescale when present (PS3.3 C.11.1).
        Func<int, double> modality = modalityLut is null ? v => v * slope + intercept : v => modalityLut.Lookup(v);
        var invert = DecodedPhotometricInterpretation == "MONOCHROME1";
        Func<double, double> voi;
        if (window is { } w)
        {
            voi = x => DicomPixelMath.Window(x, w.Center, Math.Max(1, w.Width), "LINEAR");
        }
        else if (_voiLut is { } lut)
        {
            var scale = 255.0 / Math.Max(1, lut.MaxValue);
            voi = x => lut.Lookup((int)Math.Round(x, MidpointRounding.AwayFromZero)) * scale;
        }
        else if (h.WindowCenter is { } center && h.WindowWidth is { } width && width > 0)
        {
            var function = h.VoiLutFunction;
            voi = x => DicomPixelMath.Window(x, center, width, function);
        }
        else
        {
            // Min-max over the frame's modality values (the ends of the stored range: exact for
            // rescales and for the monotonic modality LUTs real devices write).
            var a = modality(minStored);
            var b = modality(maxStored);
            var low = Math.Min(a, b);
            var range = Math.Abs(b - a);
            voi = range > 0 ? x => (x - low) / range * 255.0 : _ => 0;
        }

        return stored =>
        {
            var value = DicomPixelMath.ToByte(voi(modality(stored)));
            return invert ? (byte)(255 - value) : value;
        };
    }

    private Image<Rgb24> RenderColour(int frame)
    {
        var h = Header;
        var columns = h.Columns;
        var rows = h.Rows;
        var image = new Image<Rgb24>(columns, rows);

        if (DecodedPhotometricInterpretation == "PALETTE COLOR")
        {
            var table = BuildPaletteLut();
            var wide = h.BitsAllocated == 16;
            var offset = frame * rows * columns * (wide ? 2 : 1);
            var pixels = _pixels;
            image.ProcessPixelRows(accessor =>
            {
                for (var y = 0; y < accessor.Height; y++)
                {
                    var row = accessor.GetRowSpan(y);
                    if (wide)
                    {
                        var src = MemoryMarshal.Cast<byte, ushort>(pixels.AsSpan(offset + y * columns * 2, columns * 2));
                        for (var x = 0; x < src.Length; x++)
                        {
                            row[x] = table[src[x]];
                        }
                    }
                    else
                    {
                        var src = pixels.AsSpan(offset + y * columns, columns);
                        for (var x = 0; x < src.Length; x++)
                        {
                            row[x] = table[src[x]];
                        }
                    }
                }
            });
            return image;
        }

        // RGB and YBR: stored values colour-by-pixel (planar configuration undone), scaled to 8 bits.
        var samples = SamplesPerFrame;
        var stored = ArrayPool<int>.Shared.Rent(samples);
        try
        {
            CopyStoredValues(frame, stored);
            var maxValue = (1 << Math.Min(h.BitsStored, 16)) - 1;
            var ybr = DecodedPhotometricInterpretation == "YBR_FULL";
            var to8 = maxValue == 255 ? null : (Func<int, byte>)(v => DicomPixelMath.ToByte(v * 255.0 / maxValue));
            image.ProcessPixelRows(accessor =>
            {
                Span<byte> rgb = stackalloc byte[3];
                for (var y = 0; y < accessor.Height; y++)
                {
                    var row = MemoryMarshal.AsBytes(accessor.GetRowSpan(y));
                    var src = stored.AsSpan(y * columns * 3, columns * 3);
                    for (var i = 0; i < src.Length; i += 3)
                    {
                        byte a = Clamp8(src[i], to8), b = Clamp8(src[i + 1], to8), c = Clamp8(src[i + 2], to8);
                        if (ybr)
                        {
                            DicomPixelMath.YbrFullToRgb(a, b, c, rgb);
                            row[i] = rgb[0];
                            row[i + 1] = rgb[1];
                            row[i + 2] = rgb[2];
                        }
                        else
                        {
                            row[i] = a;
                            row[i + 1] = b;
                            row[i + 2] = c;
                        }
                    }
                }
            });
            return image;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(stored);
        }

        static byte Clamp8(int v, Func<int, byte>? to8) => to8 is null ? (byte)Math.Clamp(v, 0, 255) : to8(v);
    }

    /// <summary>Raw word → RGB through the three palette tables (8- or 16-bit entries scaled to 8 bits).</summary>
    private Rgb24[] BuildPaletteLut()
    {
        var h = Header;
        var palette = _palette ?? throw new InvalidOperationException("PALETTE COLOR without palette");
        var shift = h.HighBit + 1 - h.BitsStored;
        var mask = (1u << h.BitsStored) - 1;
        var signed = h.PixelRepresentation == 1;
        var table = new Rgb24[h.BitsAllocated == 16 ? 65_536 : 256];
        for (var w = 0; w < table.Length; w++)
        {
            var stored = DicomPixelMath.ToStored((uint)w, shift, mask, h.BitsStored, signed);
            table[w] = new Rgb24(Channel(palette.Red, stored), Channel(palette.Green, stored), Channel(palette.Blue, stored));
        }

        return table;

        static byte Channel(DicomLookupTable lut, int stored) => DicomPixelMath.ToByte(lut.Lookup(stored) * 255.0 / Math.Max(1, lut.MaxValue));
    }
}
