using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// Every DICOM test file Debian's python3-pydicom ships: decodes (and matches a dcmtk/GDCM reference
/// decode) or is refused with the expected reason; the few that cannot be tested in-process are listed
/// with the reason, so a file added by a new package version fails until someone classifies it.
/// </summary>
public sealed class DicomCorpusTests
{
    /// <summary>Files that must be refused, with the category and fragments of the reason.</summary>
    private static readonly Dictionary<string, (DicomRejection Kind, string[] ReasonParts)> Refused = new(StringComparer.Ordinal)
    {
        ["no_meta.dcm"] = (DicomRejection.NotDicom, ["Part 10"]),
        ["ExplVR_BigEndNoMeta.dcm"] = (DicomRejection.NotDicom, ["Part 10"]),
        ["ExplVR_LitEndNoMeta.dcm"] = (DicomRejection.NotDicom, ["Part 10"]),
        ["rtstruct.dcm"] = (DicomRejection.NotDicom, ["Part 10"]),
        ["MR_truncated.dcm"] = (DicomRejection.Corrupt, ["truncated"]),
        ["rtplan_truncated.dcm"] = (DicomRejection.Corrupt, ["truncated or corrupt"]),
        ["meta_missing_tsyntax.dcm"] = (DicomRejection.Corrupt, ["could not be parsed"]),
        ["JPEG2000-embedded-sequence-delimiter.dcm"] = (DicomRejection.Corrupt, ["could not be decoded", "1.2.840.10008.1.2.4.91"]),
        ["rtplan.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data", "1.2.840.10008.5.1.4.1.1.481.5", "RTPLAN"]),
        ["waveform_ecg.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data", "waveform", "1.2.840.10008.5.1.4.1.1.9.1.1", "ECG"]),
        ["reportsi.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data", "1.2.840.10008.5.1.4.1.1.88.11", "SR"]),
        ["reportsi_with_empty_number_tags.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data", "1.2.840.10008.5.1.4.1.1.88.11"]),
        ["test-SR.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data", "1.2.840.10008.5.1.4.1.1.88.33"]),
        ["UN_sequence.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data"]),
        ["empty_charset_LEI.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data"]),
        ["no_meta_group_length.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data"]),
        ["priv_SQ.dcm"] = (DicomRejection.NoPixelData, ["no image pixel data"]),
        ["nested_priv_SQ.dcm"] = (DicomRejection.Unsupported, ["image attributes missing"]),
        ["badVR.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated"]),
        ["rtdose.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated"]),
        ["rtdose_expb.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated"]),
        ["rtdose_rle.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated"]),
        ["SC_rgb_rle_32bit.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated", "RGB"]),
        ["SC_rgb_rle_32bit_2frame.dcm"] = (DicomRejection.Unsupported, ["32 bits allocated", "RGB"]),
    };

    /// <summary>Files that decode; lossy ones (JPEG baseline/extended, JPEG 2000) are compared with a tolerance.</summary>
    private static readonly Dictionary<string, bool> Decoded = new(StringComparer.Ordinal)
    {
        ["CT_small.dcm"] = true,
        ["ExplVR_BigEnd.dcm"] = true,
        ["GDCMJ2K_TextGBR.dcm"] = true,
        ["J2K_pixelrep_mismatch.dcm"] = true,
        ["MR_small.dcm"] = true,
        ["MR_small_RLE.dcm"] = true,
        ["MR_small_bigendian.dcm"] = true,
        ["MR_small_expb.dcm"] = true,
        ["MR_small_implicit.dcm"] = true,
        ["MR_small_jp2klossless.dcm"] = true,
        ["MR_small_jpeg_ls_lossless.dcm"] = true,
        ["MR_small_padded.dcm"] = true,
        ["SC_rgb_jpeg_dcmd.dcm"] = true,
        ["SC_rgb_jpeg_gdcm.dcm"] = true,
        ["SC_rgb_rle.dcm"] = true,
        ["SC_rgb_rle_2frame.dcm"] = true,
        // GDCM mixes the bytes of the three channels here; our own RLE decoder (DicomRle) takes these.
        ["SC_rgb_rle_16bit.dcm"] = true,
        ["SC_rgb_rle_16bit_2frame.dcm"] = true,
        ["SC_rgb_small_odd.dcm"] = true,
        ["SC_ybr_full_422_uncompressed.dcm"] = true,
        ["image_dfl.dcm"] = true,
        ["liver_1frame.dcm"] = true,
        ["liver_expb_1frame.dcm"] = true,
        ["693_J2KI.dcm"] = false,
        ["JPEG-lossy.dcm"] = false,
        ["JPEG2000.dcm"] = false,
        ["JPGExtended.dcm"] = false,
        ["SC_jpeg_no_color_transform.dcm"] = false,
        ["SC_jpeg_no_color_transform_2.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cr.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cy+n1.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cy+n2.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cy+np.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cy+s2.dcm"] = false,
        ["SC_rgb_dcmtk_+eb+cy+s4.dcm"] = false,
        ["SC_rgb_gdcm_KY.dcm"] = false,
        ["SC_rgb_jpeg_app14_dcmd.dcm"] = false,
        ["SC_rgb_jpeg_dcmtk.dcm"] = false,
        ["SC_rgb_jpeg_lossy_gdcm.dcm"] = false,
        ["SC_rgb_small_odd_jpeg.dcm"] = false,
    };

    /// <summary>Files no test reads, and why (each is an open defect or has no independent reference).</summary>
    private static readonly Dictionary<string, string> NotTested = new(StringComparer.Ordinal)
    {
        ["rtdose_1frame.dcm"] = "GDCM fails an assertion on its Number of Frames and aborts the whole process",
        ["rtdose_expb_1frame.dcm"] = "GDCM fails an assertion on its Number of Frames and aborts the whole process",
        ["rtdose_rle_1frame.dcm"] = "GDCM fails an assertion on its Number of Frames and aborts the whole process",
        ["SC_rgb_jpeg.dcm"] = "no reference: dcmtk refuses its non-standard VR",
    };

    public static TheoryData<string> RefusedFiles => [.. Refused.Keys.Order(StringComparer.Ordinal)];

    public static TheoryData<string> DecodedFiles => [.. Decoded.Keys.Order(StringComparer.Ordinal)];

    [Fact]
    public void Every_corpus_file_has_an_expected_outcome()
    {
        var files = Directory.GetFiles(DicomTestEnvironment.CorpusDirectory, "*.dcm").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(files);
        var known = Refused.Keys.Concat(Decoded.Keys).Concat(NotTested.Keys).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(known, files);
    }

    [Theory]
    [MemberData(nameof(RefusedFiles))]
    public void Refused_with_the_expected_reason(string name)
    {
        var (kind, parts) = Refused[name];
        var error = Assert.Throws<DicomRejectedException>(() => DicomReader.Read(DicomTestEnvironment.CorpusFile(name)));
        Assert.Equal(kind, error.Kind);
        foreach (var part in parts)
        {
            Assert.Contains(part, error.Reason, StringComparison.OrdinalIgnoreCase);
        }

        // The header-only path refuses the same way (the consumer may call it first), except where only
        // the pixel data is broken: then the header reads and the decode refuses.
        if (error.Reason.Contains("could not be decoded", StringComparison.Ordinal))
        {
            Assert.True(DicomReader.ReadHeader(DicomTestEnvironment.CorpusFile(name)).HasPixelData);
            return;
        }

        var headerError = Assert.Throws<DicomRejectedException>(() => DicomReader.ReadHeader(DicomTestEnvironment.CorpusFile(name)));
        Assert.Equal(kind, headerError.Kind);
    }

    [Theory]
    [MemberData(nameof(DecodedFiles))]
    public void Decodes_and_renders_every_frame(string name)
    {
        var file = DicomReader.Read(DicomTestEnvironment.CorpusFile(name));
        var header = file.Header;
        Assert.True(header.HasPixelData);
        Assert.NotEmpty(header.SopInstanceUid);
        Assert.Equal(header, DicomReader.ReadHeader(DicomTestEnvironment.CorpusFile(name)) with { WindowCenters = header.WindowCenters, WindowWidths = header.WindowWidths });
        for (var frame = 0; frame < file.FrameCount; frame++)
        {
            using var image = file.Render(frame);
            Assert.Equal(header.Columns, image.Width);
            Assert.Equal(header.Rows, image.Height);
            using var fitted = file.RenderLongSide(frame, 224);
            Assert.Equal(224, Math.Max(fitted.Width, fitted.Height));
            Assert.Equal(header.Columns >= header.Rows, fitted.Width == 224);
        }
    }

    [Theory]
    [MemberData(nameof(DecodedFiles))]
    public void Stored_values_equal_the_reference_decode(string name)
    {
        var path = DicomTestEnvironment.CorpusFile(name);
        var file = DicomReader.Read(path);
        var expected = ReferenceDecoder.StoredValues(path, file.Header, out var tool);
        var actual = new int[file.SamplesPerFrame * file.FrameCount];
        for (var frame = 0; frame < file.FrameCount; frame++)
        {
            file.CopyStoredValues(frame, actual.AsSpan(frame * file.SamplesPerFrame, file.SamplesPerFrame));
        }

        Assert.Equal(expected.Length, actual.Length);
        if (Decoded[name])
        {
            var firstDifference = Enumerable.Range(0, actual.Length).FirstOrDefault(i => actual[i] != expected[i], -1);
            Assert.True(firstDifference < 0, $"{name} ({tool}): sample {firstDifference} is {(firstDifference < 0 ? 0 : actual[firstDifference])}, reference {(firstDifference < 0 ? 0 : expected[firstDifference])}");
        }
        else
        {
            // Lossy: another decoder may round differently in the inverse transform, never by much.
            var range = Math.Max(1, expected.Max() - expected.Min());
            var maxDifference = actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
            var meanDifference = actual.Zip(expected, (a, e) => (double)Math.Abs(a - e)).Average();
            Assert.True(maxDifference <= Math.Max(2, range / 64), $"{name} ({tool}): max difference {maxDifference} over range {range}");
            Assert.True(meanDifference <= Math.Max(0.5, range / 1024.0), $"{name} ({tool}): mean difference {meanDifference}");
        }
    }

    [Fact]
    public void Concurrent_reads_give_the_same_values_as_sequential_ones()
    {
        // The preparation worker decodes several documents at once; GDCM readers must not share state.
        var names = Decoded.Keys.Order(StringComparer.Ordinal).ToArray();
        var sequential = names.Select(n => DicomReader.Read(DicomTestEnvironment.CorpusFile(n)).GetStoredValues(0)).ToArray();
        var parallel = new int[names.Length][];
        Parallel.For(0, names.Length * 3, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var index = i % names.Length;
            parallel[index] = DicomReader.Read(DicomTestEnvironment.CorpusFile(names[index])).GetStoredValues(0);
        });
        for (var i = 0; i < names.Length; i++)
        {
            Assert.Equal(sequential[i], parallel[i]);
        }
    }
}
