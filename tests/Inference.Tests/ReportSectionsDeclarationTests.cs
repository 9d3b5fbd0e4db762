using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>checkpoint.json <c>report_sections</c>: read as declared, refused by name when it asks for a section no report can have.</summary>
public sealed class ReportSectionsDeclarationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-sections-" + Guid.NewGuid().ToString("N"));

    public ReportSectionsDeclarationTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(TestEnvironment.Checkpoint("224")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Without_the_key_no_structure_is_required()
    {
        Assert.Empty(CheckpointInfo.Read(_dir).ReportSections);
    }

    [Fact]
    public void Declared_sections_are_read_in_upper_case()
    {
        Edit(c => c["report_sections"] = new JsonArray("findings", "IMPRESSION"));
        Assert.Equal(["FINDINGS", "IMPRESSION"], CheckpointInfo.Read(_dir).ReportSections);
    }

    [Theory]
    [InlineData("[\"FINDINGS\", \"HISTORY\"]")]
    [InlineData("\"FINDINGS\"")]
    [InlineData("[1]")]
    public void A_declaration_the_report_post_processor_cannot_check_is_refused(string json)
    {
        Edit(c => c["report_sections"] = JsonNode.Parse(json));
        var ex = Assert.Throws<CheckpointException>(() => CheckpointInfo.Read(_dir));
        Assert.Contains("report_sections", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"IMPRESSION\"", ex.Message, StringComparison.Ordinal);
    }

    private void Edit(Action<JsonObject> edit)
    {
        var path = Path.Combine(_dir, "checkpoint.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }
}
