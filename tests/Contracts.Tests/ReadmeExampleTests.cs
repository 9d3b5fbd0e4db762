using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Contracts.Tests;

/// <summary>The envelope example in schemas/README.md is what another system copies: keep it honest.</summary>
public sealed partial class ReadmeExampleTests
{
    [Fact]
    public void Readme_SubmitDocument_example_names_the_MassTransit_urn_of_the_record()
    {
        var envelope = Example();
        var urn = (string?)envelope["messageType"]!.AsArray().Single();
        Assert.Equal($"urn:message:{typeof(SubmitDocument).Namespace}:{nameof(SubmitDocument)}", urn);
        Assert.True(Guid.TryParse((string?)envelope["messageId"], out _), "messageId must be a UUID");
    }

    [Fact]
    public void Readme_SubmitDocument_example_message_validates_and_deserializes()
    {
        var message = Example()["message"]!;
        var result = MessageSchemas.Evaluate(typeof(SubmitDocument), message);
        Assert.True(result.IsValid, MessageSchemas.Describe(result));

        var submit = message.Deserialize<SubmitDocument>(MessageSchemas.Json)!;
        Assert.True(TaskNames.IsKnown(submit.Task));
        Assert.False(Path.IsPathRooted(submit.Path), "the example path must be relative to the shared root");
    }

    internal static JsonObject Example()
    {
        var readme = File.ReadAllText(Path.Combine(MessageSchemas.RepoRoot, "schemas", "README.md"));
        var block = JsonBlock().Matches(readme).Select(m => m.Groups[1].Value).Single(b => b.Contains("\"messageType\"", StringComparison.Ordinal));
        return JsonNode.Parse(block)!.AsObject();
    }

    [GeneratedRegex("```json\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}
