namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>checkpoint.json <c>report_sections</c>: the structure a report checkpoint promises, checked per report.</summary>
public sealed class ReportSectionsTests
{
    private static readonly PostProcessingContext Declared = new() { ReportSections = ["FINDINGS", "IMPRESSION"] };

    [Fact]
    public void A_report_with_both_declared_sections_is_valid()
    {
        var r = TaskPostProcessor.Process("report_sections", "FINDINGS: The lungs are clear.\nIMPRESSION: No acute process.", Declared);
        Assert.True(r.Valid, string.Join("; ", r.Errors));
    }

    [Fact]
    public void A_report_without_the_impression_heading_is_invalid_with_the_missing_section_named()
    {
        // Plausible prose, so only the structure check can fail it.
        const string text = "Findings: The lungs are clear. There is no pleural effusion and the heart size is normal.";
        Assert.True(TaskPostProcessor.Process("report_sections", text, new()).Valid);

        var r = TaskPostProcessor.Process("report_sections", text, Declared);
        Assert.False(r.Valid);
        var error = Assert.Single(r.Errors);
        Assert.Contains("lacks the IMPRESSION section", error, StringComparison.Ordinal);
        Assert.Contains("report_sections", error, StringComparison.Ordinal);
        Assert.Contains(error, r.ErrorsJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Prose_without_any_heading_lacks_both_sections()
    {
        var r = TaskPostProcessor.Process("report_sections", "The lungs are clear and the heart size is normal.", Declared);
        Assert.False(r.Valid);
        Assert.Contains(r.Errors, e => e.Contains("lacks the FINDINGS and IMPRESSION sections", StringComparison.Ordinal));
    }

    [Fact]
    public void A_heading_with_nothing_after_it_does_not_count_as_the_section()
    {
        var r = TaskPostProcessor.Process("report_sections", "Findings: The lungs are clear.\nImpression: ", Declared);
        Assert.False(r.Valid);
        Assert.Contains(r.Errors, e => e.Contains("lacks the IMPRESSION section", StringComparison.Ordinal));
    }

    [Fact]
    public void Only_the_declared_sections_are_required()
    {
        var r = TaskPostProcessor.Process("report_sections", "Findings: The lungs are clear and the heart size is normal.",
            new PostProcessingContext { ReportSections = ["FINDINGS"] });
        Assert.True(r.Valid, string.Join("; ", r.Errors));
    }
}
