using System.Text.RegularExpressions;
using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// Intake's GDCM-free reader of SOP Instance and Study Instance UIDs agrees with dcmtk's <c>dcmdump</c> on every
/// transfer syntax of the corpus, and never throws on hostile bytes.
/// </summary>
public sealed class DicomSnifferTests
{
    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("JPEG2000.dcm")]
    [InlineData("JPGExtended.dcm")]
    [InlineData("MR_small.dcm")]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    [InlineData("MR_small_implicit.dcm")]
    [InlineData("MR_small_jpeg_ls_lossless.dcm")]
    [InlineData("SC_rgb_rle_2frame.dcm")]
    [InlineData("image_dfl.dcm")]
    // no_meta.dcm (a bare data set) is left out: dcmdump does not read it, so there is no reference to compare with.
    [InlineData("693_J2KI.dcm")]
    [InlineData("ExplVR_BigEnd.dcm")]
    // GDCM aborts the process on this one; the sniffer must still read its UIDs.
    [InlineData("rtdose_1frame.dcm")]
    public void Sniffed_uids_match_dcmdump(string name)
    {
        var path = DicomTestEnvironment.CorpusFile(name);
        var dump = DicomTestEnvironment.Run("dcmdump", "-q", "+P", "0008,0018", "+P", "0020,000d", path);
        var sop = Value(dump, "0008,0018");
        Assert.False(string.IsNullOrEmpty(sop), $"dcmdump found no SOP Instance UID in {name}");

        var sniffed = DicomSniffer.ReadFile(path);
        Assert.Equal(sop, sniffed.SopInstanceUid);
        // Big-endian and deflated data sets are not walked: only the meta group's UIDs are read there.
        if (name is not ("MR_small_bigendian.dcm" or "image_dfl.dcm"))
        {
            Assert.Equal(Value(dump, "0020,000d"), sniffed.StudyInstanceUid);
        }
    }

    [Fact]
    public void Random_and_cut_off_bytes_give_empty_uids_without_throwing()
    {
        var random = new Random(11);
        var good = File.ReadAllBytes(DicomTestEnvironment.CorpusFile("MR_small.dcm"));
        for (var i = 0; i < 500; i++)
        {
            var bytes = good[..random.Next(good.Length)];
            // Flip a few bytes anywhere: lengths, VRs and tags become garbage.
            for (var k = 0; k < 4 && bytes.Length > 0; k++)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            _ = DicomSniffer.Read(bytes);
        }

        var noise = new byte[4096];
        random.NextBytes(noise);
        Assert.Equal("", DicomSniffer.Read(noise).SopInstanceUid);
    }

    private static string Value(string dump, string tag)
    {
        var m = Regex.Match(dump, $@"^\({tag}\) UI \[([^\]]*)\]", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        return m.Success ? m.Groups[1].Value.TrimEnd('\0', ' ') : "";
    }
}
