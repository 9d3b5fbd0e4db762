using System.Runtime.InteropServices;
using PaliGemma2.DocPipeline.Documents.Dicom;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>The 8-bit display pipeline against dcmtk's dcmj2pnm on the same input and VOI.</summary>
public sealed class DicomRenderTests
{
    [Theory]
    [InlineData("MR_small.dcm", 600, 1600)]
    [InlineData("693_J2KI.dcm", 40, 100)]
    public void Windowed_monochrome_matches_dcmj2pnm_within_one(string name, double center, double width)
    {
        var path = DicomTestEnvironment.CorpusFile(name);
        var file = DicomReader.Read(path);

        // The file's own first window is what the pipeline applies by default.
        Assert.Equal(center, file.Header.WindowCenter);
        Assert.Equal(width, file.Header.WindowWidth);
        using var ours = file.Render(0);

        // dcmtk has no JPEG 2000 decoder: it reads GDCM's uncompressed copy of the signed CT (with rescale).
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var referenceInput = path;
        if (file.Header.TransferSyntaxUid.StartsWith("1.2.840.10008.1.2.4.9", StringComparison.Ordinal))
        {
            referenceInput = temp.File("raw.dcm");
            DicomTestEnvironment.Run("gdcmconv", "--raw", path, referenceInput);
        }

        var reference = Dcmj2pnm(referenceInput, "-O", "+Ww", center.ToString(System.Globalization.CultureInfo.InvariantCulture), width.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AssertClose(ours, reference, tolerance: 1, name);
    }

    [Fact]
    public void Min_max_voi_matches_dcmj2pnm_when_the_file_has_no_window()
    {
        var path = DicomTestEnvironment.CorpusFile("CT_small.dcm");
        var file = DicomReader.Read(path);
        Assert.Null(file.Header.WindowCenter);
        Assert.Equal(-1024, file.Header.RescaleIntercept);
        using var ours = file.Render(0);
        AssertClose(ours, Dcmj2pnm(path, "-O", "+Wm"), tolerance: 1, "CT_small.dcm");
    }

    [Fact]
    public void Window_override_is_applied_in_modality_units()
    {
        var path = DicomTestEnvironment.CorpusFile("CT_small.dcm");
        var file = DicomReader.Read(path);
        using var ours = file.Render(0, new DicomWindow(40, 400));
        AssertClose(ours, Dcmj2pnm(path, "-O", "+Ww", "40", "400"), tolerance: 1, "CT_small.dcm soft-tissue window");
    }

    [Theory]
    [InlineData("SC_rgb_rle.dcm", 0, 0)]
    [InlineData("SC_rgb_rle_2frame.dcm", 1, 0)]
    [InlineData("SC_rgb_rle_16bit.dcm", 0, 1)]
    [InlineData("SC_rgb_rle_16bit_2frame.dcm", 1, 1)]
    [InlineData("SC_rgb_small_odd.dcm", 0, 0)]
    [InlineData("SC_ybr_full_422_uncompressed.dcm", 0, 1)]
    [InlineData("SC_rgb_jpeg_dcmtk.dcm", 0, 1)]
    public void Colour_matches_dcmj2pnm(string name, int frame, int tolerance)
    {
        var path = DicomTestEnvironment.CorpusFile(name);
        var file = DicomReader.Read(path);
        using var ours = file.Render(frame);
        var frameArguments = file.FrameCount > 1 ? new[] { "+F", (frame + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) } : [];
        AssertClose(ours, Dcmj2pnm(path, [.. frameArguments]), tolerance, name);
    }

    [Fact]
    public void Palette_colour_made_by_dcmquant_matches_dcmj2pnm()
    {
        // Debian's pydicom test files have no PALETTE COLOR image: dcmtk's quantiser makes one from real RGB.
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var native = temp.File("native.dcm");
        var palette = temp.File("palette.dcm");
        DicomTestEnvironment.Run("dcmdrle", DicomTestEnvironment.CorpusFile("SC_rgb_rle.dcm"), native);
        DicomTestEnvironment.Run("dcmquant", native, palette);
        var file = DicomReader.Read(palette);
        Assert.Equal("PALETTE COLOR", file.Header.PhotometricInterpretation);
        using var ours = file.Render(0);
        AssertClose(ours, Dcmj2pnm(palette), tolerance: 1, "dcmquant palette");
    }

    [Fact]
    public void Voi_lut_sequence_takes_precedence_and_matches_dcmj2pnm()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("voilut.dcm");
        const int side = 64;
        var pixels = new byte[side * side * 2];
        for (var i = 0; i < side * side; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(pixels.AsSpan(i * 2), (ushort)(i % 4096));
        }

        // A non-linear (square-root) curve over 100..3999, so a window or min-max could not produce it.
        var entries = Enumerable.Range(0, 3900).Select(i => (ushort)Math.Round(Math.Sqrt(i / 3899.0) * 65535)).ToArray();
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(side, side, 16, 12, "MONOCHROME2")
        {
            WindowCenter = 2048,
            WindowWidth = 100,
            VoiLut = (100, 16, entries),
        }, pixels);

        var file = DicomReader.Read(path);
        Assert.True(file.Header.HasVoiLut);
        using var ours = file.Render(0);
        AssertClose(ours, Dcmj2pnm(path, "+Wl", "1"), tolerance: 1, "VOI LUT");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Modality_lut_sequence_replaces_rescale_and_matches_dcmj2pnm(bool window)
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("modalitylut.dcm");
        const int side = 64;
        var pixels = new byte[side * side * 2];
        for (var i = 0; i < side * side; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(pixels.AsSpan(i * 2), (ushort)(i % 4096));
        }

        // Monotonic, non-linear: stored 0..4095 → 0..~60000 on a square curve.
        var entries = Enumerable.Range(0, 4096).Select(i => (ushort)Math.Round(i * (double)i / 280)).ToArray();
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(side, side, 16, 12, "MONOCHROME2") { ModalityLut = (0, 16, entries) }, pixels);

        var file = DicomReader.Read(path);
        Assert.True(file.Header.HasModalityLut);
        using var ours = window ? file.Render(0, new DicomWindow(20000, 30000)) : file.Render(0);
        var reference = window ? Dcmj2pnm(path, "+Ww", "20000", "30000") : Dcmj2pnm(path, "+Wm");
        AssertClose(ours, reference, tolerance: 1, "Modality LUT");
    }

    [Fact]
    public void Multi_frame_frames_differ_and_are_pages()
    {
        var file = DicomReader.Read(DicomTestEnvironment.CorpusFile("SC_rgb_rle_2frame.dcm"));
        Assert.Equal(2, file.FrameCount);
        Assert.NotEqual(file.GetStoredValues(0), file.GetStoredValues(1));
    }

    [Fact]
    public void Model_input_render_keeps_the_aspect_ratio_without_padding()
    {
        // JPGExtended is 256 wide × 1024 high: the long side becomes 896, the short side scales with it,
        // and nothing is padded (the checkpoint's image_mode decides that in the inference preprocessor).
        var file = DicomReader.Read(DicomTestEnvironment.CorpusFile("JPGExtended.dcm"));
        Assert.Equal((256, 1024), (file.Header.Columns, file.Header.Rows));
        using var fitted = file.RenderLongSide(0, 896);
        Assert.Equal(896, fitted.Height);
        Assert.Equal((int)Math.Round(256 * 896.0 / 1024), fitted.Width);
        var all = Pixels(fitted);
        Assert.Contains(Enumerable.Range(0, fitted.Height).Select(y => all[(y * fitted.Width) + (fitted.Width / 2)]), p => p.R > 0);
    }

    internal static Rgb24[] Pixels(Image<Rgb24> image)
    {
        var pixels = new Rgb24[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        return pixels;
    }

    internal static (int Width, int Height, int Channels, byte[] Data) Dcmj2pnm(string path, params string[] options)
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var output = temp.File("out.pnm");
        DicomTestEnvironment.Run("dcmj2pnm", [.. options, path, output]);
        return ReferenceDecoder.ReadPnm(output);
    }

    internal static void AssertClose(Image<Rgb24> ours, (int Width, int Height, int Channels, byte[] Data) reference, int tolerance, string what)
    {
        Assert.Equal(reference.Width, ours.Width);
        Assert.Equal(reference.Height, ours.Height);
        var worst = 0;
        var worstAt = -1;
        var all = Pixels(ours);
        for (var y = 0; y < ours.Height; y++)
        {
            var bytes = MemoryMarshal.AsBytes(all.AsSpan(y * ours.Width, ours.Width));
            for (var x = 0; x < ours.Width; x++)
            {
                for (var c = 0; c < 3; c++)
                {
                    var expected = reference.Data[(((y * ours.Width) + x) * reference.Channels) + (reference.Channels == 1 ? 0 : c)];
                    var difference = Math.Abs(bytes[(x * 3) + c] - expected);
                    if (difference > worst)
                    {
                        worst = difference;
                        worstAt = (y * ours.Width) + x;
                    }
                }
            }
        }

        Assert.True(worst <= tolerance, $"{what}: largest difference {worst} at pixel {worstAt} (tolerance {tolerance})");
    }
}
