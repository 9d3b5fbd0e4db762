using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Pacs.Sr;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

public sealed class ReportSrWriterTests : IDisposable
{
    private readonly string _dir = TestServices.NewTempDirectory("sr");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_draft_report_sr_reads_in_dsrdump_with_text_study_flags_and_model()
    {
        var source = await Dcmtk.MakeDxAsync(_dir, "dx.dcm");
        var header = DicomReader.ReadHeader(source);
        var srUid = ReportSrWriter.NewUid();
        var seriesUid = ReportSrWriter.NewUid();
        var bytes = ReportSrWriter.Write(new ReportSrRequest
        {
            SourcePath = source,
            SeriesInstanceUid = seriesUid,
            SopInstanceUid = srUid,
            Findings = "The lungs are clear.",
            Impression = "No acute cardiopulmonary process.",
            Manufacturer = "PaliGemma2.DocPipeline",
            ModelName = "demo-toy-paligemma2-report",
            SoftwareVersion = "0.1.0-demo",
            CreatedAt = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero),
        });
        var sr = Path.Combine(_dir, "sr.dcm");
        await File.WriteAllBytesAsync(sr, bytes);

        var dump = await Dcmtk.RunAsync("dsrdump", "+Pl", sr);
        Assert.Contains("The lungs are clear.", dump, StringComparison.Ordinal);
        Assert.Contains("No acute cardiopulmonary process.", dump, StringComparison.Ordinal);
        Assert.Contains("UNVERIFIED", dump, StringComparison.Ordinal);
        Assert.Contains("PARTIAL", dump, StringComparison.Ordinal);
        Assert.Contains("Diagnostic imaging report", dump, StringComparison.Ordinal);
        Assert.Contains("demo-toy-paligemma2-report", dump, StringComparison.Ordinal);

        var tags = await Dcmtk.RunAsync("dcmdump", "-Un", "+P", "0020,000d", "+P", "0008,1090", "+P", "0018,1020", "+P", "0008,0016", "+P", "0008,1155", "+P", "0010,0010", sr);
        Assert.Contains(header.StudyInstanceUid, tags, StringComparison.Ordinal);
        Assert.Contains("demo-toy-paligemma2-report", tags, StringComparison.Ordinal);
        Assert.Contains("0.1.0-demo", tags, StringComparison.Ordinal);
        Assert.Contains(ReportSrWriter.BasicTextSrSopClass, tags, StringComparison.Ordinal);
        Assert.Contains(header.SopInstanceUid, tags, StringComparison.Ordinal);

        var top = await Dcmtk.RunAsync("dcmdump", "-Un", "-M", sr);
        Assert.Contains($"(0020,000e) UI [{seriesUid}]", top, StringComparison.Ordinal);
        Assert.Contains($"(0008,0018) UI [{srUid}]", top, StringComparison.Ordinal);
        Assert.Contains("(0008,0060) CS [SR]", top, StringComparison.Ordinal);
        Assert.DoesNotContain($"(0020,000e) UI [{header.SeriesInstanceUid}]\n", top.Split("(0040,a375)")[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_sr_made_from_a_report_full_of_control_characters_is_clean_for_dciodvfy()
    {
        var source = await Dcmtk.MakeDxAsync(_dir, "dx.dcm");
        // Every C0 control, DEL, C1 controls, U+FFFD, an unpaired surrogate and a noncharacter around real words.
        var noise = new string(Enumerable.Range(0, 0x20).Select(i => (char)i).ToArray()) + "\u007f\u0085\u009b\ufffd\ud800\uffff";
        var bytes = ReportSrWriter.Write(new ReportSrRequest
        {
            SourcePath = source,
            SeriesInstanceUid = ReportSrWriter.NewUid(),
            SopInstanceUid = ReportSrWriter.NewUid(),
            Findings = "Lungs" + noise + "clear.\r\nNo effusion.",
            Impression = noise + "Normal" + noise,
            Manufacturer = "PaliGemma2.DocPipeline",
            ModelName = "demo\u0001model\\x",
            SoftwareVersion = "0.1.0\u001f",
            CreatedAt = DateTimeOffset.UtcNow,
        });
        var sr = Path.Combine(_dir, "noisy-sr.dcm");
        await File.WriteAllBytesAsync(sr, bytes);

        var report = await Dcmtk.RunAnyAsync("dciodvfy", sr);
        var errors = report.Split('\n').Where(l => l.StartsWith("Error", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "dciodvfy:\n" + report);

        // The words survive; the visible stand-in marks where invalid code points were.
        var dump = await Dcmtk.RunAsync("dsrdump", "+Pl", sr);
        Assert.Contains("Lungs", dump, StringComparison.Ordinal);
        Assert.Contains("clear.", dump, StringComparison.Ordinal);
        Assert.Contains("Normal", dump, StringComparison.Ordinal);
        var text = await Dcmtk.RunAsync("dcmdump", "-Un", "+P", "0040,a160", sr);
        Assert.Contains("?", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Sanitising_keeps_cr_lf_ff_in_ut_and_no_control_character_in_lo()
    {
        Assert.Equal("a\r\nb c\fd", DicomText.Sanitize("a\r\nb\u0000\tc\u001b\fd\u007f\u0090", "UT"));
        Assert.Equal("a b c/d", DicomText.Sanitize("a\nb\u0001 c\\d", "LO"));
        Assert.Equal("x?y?z?", DicomText.Sanitize("x\ufffdy\udc00z\ufdd0", "UT"));
        Assert.Equal("\u00e9\u4e2d\U0001F600", DicomText.Sanitize("\u00e9\u4e2d\U0001F600", "UT"));
        Assert.Equal("1\u00012", DicomText.Sanitize("1\u00012", "CS"));
    }
}
