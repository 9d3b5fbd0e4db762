using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MassTransit.Serialization;

namespace PaliGemma2.DocPipeline.Contracts.Tests;

/// <summary>
/// The schemas describe what MassTransit itself writes and reads, checked with MassTransit's own
/// System.Text.Json serializer and envelope reader rather than a look-alike configuration.
/// </summary>
public sealed class MassTransitWireFormatTests
{
    public static TheoryData<string> Messages() => Samples.MessageTypeNames();

    [Theory]
    [MemberData(nameof(Messages))]
    public void Message_as_MassTransit_serializes_it_validates_against_its_schema(string message)
    {
        var type = Samples.TypeNamed(message);
        var json = JsonSerializer.SerializeToNode(Samples.For(type), type, SystemTextJsonMessageSerializer.Options)!;
        var result = MessageSchemas.Evaluate(type, json);
        Assert.True(result.IsValid, $"{json.ToJsonString()} → {MessageSchemas.Describe(result)}");
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void MassTransit_and_web_defaults_write_the_same_json(string message)
    {
        var type = Samples.TypeNamed(message);
        var sample = Samples.For(type);
        var massTransit = JsonSerializer.SerializeToNode(sample, type, SystemTextJsonMessageSerializer.Options);
        Assert.True(JsonNode.DeepEquals(massTransit, MessageSchemas.Serialize(sample)), $"{massTransit!.ToJsonString()} vs {MessageSchemas.Serialize(sample).ToJsonString()}");
    }

    [Fact]
    public void Readme_envelope_is_read_by_MassTransit_as_a_SubmitDocument()
    {
        var envelope = ReadmeExampleTests.Example();
        var context = SystemTextJsonMessageSerializer.Instance.Deserialize(new StringMessageBody(envelope.ToJsonString()), EmptyHeaders.Instance);

        Assert.True(context.IsSupportedMessageType<SubmitDocument>());
        Assert.True(context.TryGetMessage<SubmitDocument>(out var submit));
        Assert.Equal(envelope["message"]!.Deserialize<SubmitDocument>(MessageSchemas.Json), submit);
        Assert.Equal(Guid.Parse((string)envelope["messageId"]!), context.MessageId);
        Assert.Equal(MessageUrn.ForTypeString<SubmitDocument>(), (string?)envelope["messageType"]![0]);
    }

    [Fact]
    public void Envelope_with_another_urn_is_not_a_SubmitDocument()
    {
        var envelope = ReadmeExampleTests.Example();
        envelope["messageType"] = new JsonArray("urn:message:Other.Namespace:SubmitDocument");
        var context = SystemTextJsonMessageSerializer.Instance.Deserialize(new StringMessageBody(envelope.ToJsonString()), EmptyHeaders.Instance);

        Assert.False(context.TryGetMessage<SubmitDocument>(out _));
    }

    [Fact]
    public void MassTransit_content_type_is_the_one_the_readme_names()
    {
        Assert.Equal("application/vnd.masstransit+json", SystemTextJsonMessageSerializer.JsonContentType.MediaType);
        var readme = File.ReadAllText(Path.Combine(MessageSchemas.RepoRoot, "schemas", "README.md"));
        Assert.Contains("\"content_type\":\"application/vnd.masstransit+json\"", readme, StringComparison.Ordinal);
    }
}
