using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// Lossless transfer syntaxes the corpus lacks (JPEG lossless processes 14 and 14 SV1), plus the others
/// again, made in the test by dcmtk/GDCM encoders from uncompressed corpus files: the decode must equal
/// the uncompressed original, signed CT included.
/// </summary>
public sealed class TranscodedCorpusTests
{
    [Theory]
    [InlineData("MR_small.dcm", "dcmcjpeg", "+el", "1.2.840.10008.1.2.4.57")]
    [InlineData("MR_small.dcm", "dcmcjpeg", "+e1", "1.2.840.10008.1.2.4.70")]
    [InlineData("CT_small.dcm", "dcmcjpeg", "+el", "1.2.840.10008.1.2.4.57")]
    [InlineData("CT_small.dcm", "dcmcjpeg", "+e1", "1.2.840.10008.1.2.4.70")]
    [InlineData("CT_small.dcm", "dcmcjpls", "+el", "1.2.840.10008.1.2.4.80")]
    [InlineData("CT_small.dcm", "dcmcrle", "", "1.2.840.10008.1.2.5")]
    [InlineData("CT_small.dcm", "gdcmconv", "--j2k", "1.2.840.10008.1.2.4.90")]
    [InlineData("SC_rgb_small_odd.dcm", "dcmcrle", "", "1.2.840.10008.1.2.5")]
    [InlineData("SC_rgb_rle_2frame.dcm", "dcmcjpeg", "+e1", "1.2.840.10008.1.2.4.70")]
    public void Lossless_transcode_decodes_to_the_original(string name, string tool, string option, string transferSyntax)
    {
        var source = DicomTestEnvironment.CorpusFile(name);
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var input = source;
        if (DicomReader.ReadHeader(source).TransferSyntaxUid != "1.2.840.10008.1.2.1")
        {
            // Start from an uncompressed copy so the encoder sees native pixels.
            input = temp.File("native.dcm");
            DicomTestEnvironment.Run("gdcmconv", "--raw", source, input);
        }

        var output = temp.File("encoded.dcm");
        DicomTestEnvironment.Run(tool, [.. option.Length > 0 ? [option] : Array.Empty<string>(), input, output]);

        var original = DicomReader.Read(input);
        var encoded = DicomReader.Read(output);
        Assert.Equal(transferSyntax, encoded.Header.TransferSyntaxUid);
        Assert.Equal(original.FrameCount, encoded.FrameCount);
        for (var frame = 0; frame < original.FrameCount; frame++)
        {
            Assert.Equal(original.GetStoredValues(frame), encoded.GetStoredValues(frame));
        }
    }
}
