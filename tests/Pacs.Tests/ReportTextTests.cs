using PaliGemma2.DocPipeline.Pacs.WriteBack;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

public sealed class ReportTextTests
{
    [Fact]
    public void Headings_split_findings_and_impression_case_insensitively()
    {
        var text = ReportText.Split("Findings: Lungs are clear. No effusion.\nimpression: No acute disease.");
        Assert.Equal("Lungs are clear. No effusion.", text.Findings);
        Assert.Equal("No acute disease.", text.Impression);
    }

    [Fact]
    public void Text_without_headings_is_all_findings()
    {
        var text = ReportText.Split("  heart size normal  ");
        Assert.Equal("heart size normal", text.Findings);
        Assert.Equal("", text.Impression);
    }

    [Fact]
    public void Payload_sections_win_over_the_raw_text()
    {
        var text = ReportText.From("FINDINGS: raw IMPRESSION: raw", """{"findings":"from payload","impression":"ok"}""");
        Assert.Equal(new ReportText("from payload", "ok"), text);
    }

    [Fact]
    public void A_payload_without_sections_falls_back_to_the_raw_text()
    {
        var text = ReportText.From("IMPRESSION: normal", """{"text":"x"}""");
        Assert.Equal(new ReportText("", "normal"), text);
    }
}
