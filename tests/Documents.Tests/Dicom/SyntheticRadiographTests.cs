using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>The synthetic 2,500 × 3,000 16-bit MONOCHROME1 radiograph through both lossless codecs.</summary>
public sealed class SyntheticRadiographTests(SyntheticRadiographFixture fixture) : IClassFixture<SyntheticRadiographFixture>
{
    [Theory]
    [InlineData("j2k", "1.2.840.10008.1.2.4.90")]
    [InlineData("jpegls", "1.2.840.10008.1.2.4.80")]
    [InlineData("raw", "1.2.840.10008.1.2.1")]
    public void Decodes_to_the_raw_original(string codec, string transferSyntax)
    {
        var path = codec switch
        {
            "j2k" => fixture.J2kPath,
            "jpegls" => fixture.JpegLsPath,
            _ => fixture.RawPath,
        };
        var file = DicomReader.Read(path);
        var h = file.Header;
        Assert.Equal(transferSyntax, h.TransferSyntaxUid);
        Assert.Equal((SyntheticRadiographFixture.Rows, SyntheticRadiographFixture.Columns, 1), (h.Rows, h.Columns, h.NumberOfFrames));
        Assert.Equal("MONOCHROME1", h.PhotometricInterpretation);
        Assert.Equal((16, 16, 0), (h.BitsAllocated, h.BitsStored, h.PixelRepresentation));

        var stored = file.GetStoredValues(0);
        var original = fixture.Pixels;
        Assert.Equal(original.Length, stored.Length);
        for (var i = 0; i < stored.Length; i++)
        {
            if (stored[i] != original[i])
            {
                Assert.Fail($"{codec}: pixel {i} decoded as {stored[i]}, original {original[i]}");
            }
        }
    }

    [Fact]
    public void Monochrome1_is_inverted_like_dcmj2pnm()
    {
        // dcmtk has no JPEG 2000 decoder, so compare on the uncompressed twin of the same pixels.
        var file = DicomReader.Read(fixture.RawPath);
        using var ours = file.Render(0);
        DicomRenderTests.AssertClose(ours, DicomRenderTests.Dcmj2pnm(fixture.RawPath, "+Wm"), tolerance: 1, "synthetic MONOCHROME1");

        // The smallest stored value is the brightest pixel in MONOCHROME1.
        var stored = file.GetStoredValues(0);
        var darkest = Array.IndexOf(stored, stored.Min());
        var pixels = DicomRenderTests.Pixels(ours);
        Assert.Equal(255, pixels[darkest].R);
    }

    [Fact]
    public void Model_input_render_is_896_on_the_long_side_and_unpadded()
    {
        var file = DicomReader.Read(fixture.J2kPath);
        using var fitted = file.RenderLongSide(0, 896);

        // 2,500 × 3,000 → 747 × 896: the short side scales with the long one and nothing is padded.
        Assert.Equal((747, 896), (fitted.Width, fitted.Height));
        var pixels = DicomRenderTests.Pixels(fitted);
        Assert.NotEqual(default, pixels[(448 * 747) + 373]);
    }
}
