using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>Limits checked before decoding, unsupported layouts, identifiers kept out of messages, task routing.</summary>
public sealed class DicomLimitsAndRoutingTests
{
    [Fact]
    public void Absurd_size_is_refused_from_the_header_before_decoding()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("absurd.dcm");

        // Declares 60,000 × 60,000 but carries 8 bytes: only a header check can refuse it as too large.
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(60_000, 60_000, 16, 12, "MONOCHROME2"), new byte[8]);
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path));
        Assert.Equal(DicomRejection.TooLarge, error.Kind);
        Assert.Contains("60000x60000", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_are_configurable()
    {
        var path = DicomTestEnvironment.CorpusFile("CT_small.dcm");
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path, DicomLimits.Default with { MaxPixelsPerFrame = 100 }));
        Assert.Equal(DicomRejection.TooLarge, error.Kind);
        Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path, DicomLimits.Default with { MaxFileBytes = 1000 }));
    }

    [Fact]
    public void Short_pixel_data_in_a_written_file_is_refused_as_corrupt()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("short.dcm");
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(64, 64, 16, 12, "MONOCHROME2"), new byte[64 * 64 * 2]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^1000]);
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path));
        Assert.Equal(DicomRejection.Corrupt, error.Kind);
    }

    [Fact]
    public void Unsupported_photometric_is_refused()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("hsv.dcm");
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(8, 8, 8, 8, "HSV") { SamplesPerPixel = 3 }, new byte[8 * 8 * 3]);
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path));
        Assert.Equal(DicomRejection.Unsupported, error.Kind);
    }

    [Fact]
    public void Patient_identifiers_stay_out_of_header_and_messages()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("named.dcm");
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(60_000, 60_000, 16, 12, "MONOCHROME2"), new byte[8]);
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(path));
        Assert.DoesNotContain("SECRET", error.ToString(), StringComparison.OrdinalIgnoreCase);

        var okPath = temp.File("ok.dcm");
        MinimalDicomWriter.Write(okPath, new MinimalDicomWriter.Spec(4, 4, 16, 12, "MONOCHROME2"), new byte[4 * 4 * 2]);
        var header = DicomReader.ReadHeader(okPath);
        Assert.DoesNotContain("SECRET", header.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SECRET", string.Join(",", header.ToMetadata().Values), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Metadata_has_the_documented_keys()
    {
        var header = DicomReader.ReadHeader(DicomTestEnvironment.CorpusFile("MR_small.dcm"));
        var metadata = header.ToMetadata();
        Assert.Equal("MR", metadata["modality"]);
        Assert.Equal(64, metadata["rows"]);
        Assert.Equal("1.2.840.10008.1.2.1", metadata["transferSyntaxUid"]);
        Assert.Equal("MONOCHROME2", metadata["photometricInterpretation"]);
        Assert.False(string.IsNullOrEmpty((string?)metadata["studyInstanceUid"]));
    }

    [Theory]
    [InlineData("CR", "1.2.840.10008.5.1.4.1.1.1", "report")]
    [InlineData("DX", "1.2.840.10008.5.1.4.1.1.1.1", "report")]
    [InlineData("DX", "1.2.840.10008.5.1.4.1.1.1.1.1", "report")]
    [InlineData("", "1.2.840.10008.5.1.4.1.1.1.1", "report")]
    [InlineData("CT", "1.2.840.10008.5.1.4.1.1.2", null)]
    [InlineData("MG", "1.2.840.10008.5.1.4.1.1.1.2", null)]
    [InlineData("OT", "1.2.840.10008.5.1.4.1.1.7", null)]
    public void Auto_routing_sends_radiographs_to_report(string modality, string sopClass, string? task)
    {
        var route = DicomTaskRouter.RouteAuto(new DicomHeader { Modality = modality, SopClassUid = sopClass, HasPixelData = true });
        Assert.Equal(task, route.Task);
        Assert.False(string.IsNullOrWhiteSpace(route.Reason));
    }

    [Fact]
    public void Auto_routing_of_corpus_ct_has_no_task()
    {
        var route = DicomTaskRouter.RouteAuto(DicomReader.ReadHeader(DicomTestEnvironment.CorpusFile("CT_small.dcm")));
        Assert.Null(route.Task);
        Assert.Contains("CT", route.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Synthetic_cr_routes_to_report()
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var path = temp.File("cr.dcm");
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(4, 4, 16, 12, "MONOCHROME1"), new byte[4 * 4 * 2]);
        var header = DicomReader.ReadHeader(path);
        Assert.Equal(("CR", "CHEST", "PA"), (header.Modality, header.BodyPartExamined, header.ViewPosition));
        Assert.Equal("report", DicomTaskRouter.RouteAuto(header).Task);
    }
}
