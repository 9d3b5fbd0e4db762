using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Contracts.Tests;

public sealed class MessageSchemaTests
{
    public static TheoryData<string> Messages() => Samples.MessageTypeNames();

    public static TheoryData<string, string> RequiredMembers()
    {
        var data = new TheoryData<string, string>();
        foreach (var t in MessageSchemas.MessageTypes)
        {
            foreach (var p in PublicProperties(t).Where(MessageSchemas.IsRequired))
            {
                data.Add(t.Name, p.Name);
            }
        }

        return data;
    }

    [Fact]
    public void Contracts_holds_the_six_known_messages()
    {
        // Guards the discovery below: if it found nothing, every theory would pass vacuously.
        Assert.Equal(
            ["DocumentFailed", "DocumentPrepared", "DocumentReceived", "InferenceRequested", "ResultStored", "SubmitDocument"],
            MessageSchemas.MessageTypes.Select(t => t.Name));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_record_has_a_schema_file(string message)
    {
        var path = MessageSchemas.PathOf(Samples.TypeNamed(message));
        Assert.True(File.Exists(path), $"missing {path}");
    }

    [Fact]
    public void Every_schema_file_belongs_to_a_message_record()
    {
        var expected = MessageSchemas.MessageTypes.Select(MessageSchemas.FileNameOf).Order(StringComparer.Ordinal);
        var actual = Directory.EnumerateFiles(MessageSchemas.Directory, "*.json").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Schema_is_a_closed_draft_2020_12_object_titled_after_the_record(string message)
    {
        var schema = MessageSchemas.RawSchema(Samples.TypeNamed(message));
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)schema["$schema"]);
        Assert.Equal(message, (string?)schema["title"]);
        Assert.Equal("object", (string?)schema["type"]);
        Assert.False((bool?)schema["additionalProperties"] ?? true, "additionalProperties must be false");
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Serialized_message_validates_against_its_schema(string message)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        var result = MessageSchemas.Evaluate(type, json);
        Assert.True(result.IsValid, $"{json.ToJsonString()} → {MessageSchemas.Describe(result)}");
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Serialized_message_round_trips_to_an_equal_record(string message)
    {
        var type = Samples.TypeNamed(message);
        var sample = Samples.For(type);
        var back = JsonSerializer.Deserialize(MessageSchemas.Serialize(sample).ToJsonString(), type, MessageSchemas.Json);
        Assert.Equal(sample, back);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Optional_members_may_be_null_or_absent(string message)
    {
        var type = Samples.TypeNamed(message);
        var optional = PublicProperties(type).Where(p => !MessageSchemas.IsRequired(p)).Select(CamelCase).ToList();

        var withNulls = MessageSchemas.Serialize(Samples.For(type));
        var without = MessageSchemas.Serialize(Samples.For(type));
        foreach (var name in optional)
        {
            withNulls[name] = null;
            without.Remove(name);
        }

        var nulls = MessageSchemas.Evaluate(type, withNulls);
        Assert.True(nulls.IsValid, MessageSchemas.Describe(nulls));
        var absent = MessageSchemas.Evaluate(type, without);
        Assert.True(absent.IsValid, MessageSchemas.Describe(absent));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Schema_properties_equal_the_record_public_properties(string message)
    {
        var type = Samples.TypeNamed(message);
        var schemaProperties = MessageSchemas.RawSchema(type)["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal);
        var recordProperties = PublicProperties(type).Select(CamelCase).Order(StringComparer.Ordinal);
        Assert.Equal(recordProperties, schemaProperties);

        // And the serializer really writes exactly those names.
        var written = MessageSchemas.Serialize(Samples.For(type)).Select(p => p.Key).Order(StringComparer.Ordinal);
        Assert.Equal(recordProperties, written);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Schema_required_equals_the_record_required_members(string message)
    {
        var type = Samples.TypeNamed(message);
        var schemaRequired = MessageSchemas.RawSchema(type)["required"]!.AsArray().Select(n => (string)n!).Order(StringComparer.Ordinal);
        var recordRequired = PublicProperties(type).Where(MessageSchemas.IsRequired).Select(CamelCase).Order(StringComparer.Ordinal);
        Assert.Equal(recordRequired, schemaRequired);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Schema_types_match_the_record_member_types(string message)
    {
        var type = Samples.TypeNamed(message);
        var properties = MessageSchemas.RawSchema(type)["properties"]!.AsObject();
        var nullability = new NullabilityInfoContext();
        foreach (var p in PublicProperties(type))
        {
            var schema = properties[CamelCase(p)]!.AsObject();
            var types = schema["type"] is JsonArray array ? array.Select(n => (string)n!).ToHashSet() : [(string)schema["type"]!];
            var clr = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            var (jsonType, format) = clr switch
            {
                _ when clr == typeof(Guid) => ("string", "uuid"),
                _ when clr == typeof(DateTimeOffset) || clr == typeof(DateTime) => ("string", "date-time"),
                _ when clr == typeof(string) => ("string", null),
                _ when clr == typeof(int) || clr == typeof(long) => ("integer", null),
                _ when clr == typeof(bool) => ("boolean", null),
                _ => throw new InvalidOperationException($"{type.Name}.{p.Name}: no JSON mapping for {clr}; extend this test."),
            };

            Assert.Contains(jsonType, types);
            Assert.Equal(format, (string?)schema["format"]);
            var nullable = nullability.Create(p).ReadState == NullabilityState.Nullable;
            Assert.True(nullable == types.Contains("null"), $"{type.Name}.{p.Name}: C# nullable={nullable} but schema type is [{string.Join(", ", types)}]");
        }
    }

    [Theory]
    [MemberData(nameof(RequiredMembers))]
    public void Message_missing_a_required_member_fails_validation(string message, string member)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        Assert.True(json.Remove(char.ToLowerInvariant(member[0]) + member[1..]));
        Assert.False(MessageSchemas.Evaluate(type, json).IsValid, $"{message} without {member} validated");
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Message_with_an_unknown_member_fails_validation(string message)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        json["patientName"] = "DOE^JANE";
        Assert.False(MessageSchemas.Evaluate(type, json).IsValid);
    }

    [Theory]
    [InlineData(nameof(DocumentReceived), "sha256", "../../etc/passwd")]
    [InlineData(nameof(DocumentReceived), "sha256", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08")]
    [InlineData(nameof(DocumentReceived), "sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0")]
    [InlineData(nameof(DocumentReceived), "sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a080")]
    [InlineData(nameof(DocumentReceived), "sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g")]
    [InlineData(nameof(DocumentReceived), "sha256", "")]
    [InlineData(nameof(InferenceRequested), "imageBlobKey", "../../etc/passwd")]
    [InlineData(nameof(InferenceRequested), "imageBlobKey", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData(nameof(InferenceRequested), "imageBlobKey", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\n")]
    [InlineData(nameof(InferenceRequested), "imageBlobKey", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n")]
    public void Sha256_key_that_is_not_64_lower_case_hex_fails_validation(string message, string member, string value)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        json[member] = value;
        Assert.False(MessageSchemas.Evaluate(type, json).IsValid, $"{member}={value} validated");
    }

    [Theory]
    [InlineData(nameof(DocumentReceived), "documentId", "not-a-guid")]
    [InlineData(nameof(InferenceRequested), "jobId", "1234")]
    [InlineData(nameof(DocumentReceived), "receivedAt", "yesterday")]
    [InlineData(nameof(DocumentReceived), "receivedAt", "2026-13-40T25:00:00Z")]
    [InlineData(nameof(InferenceRequested), "pageIndex", -1)]
    [InlineData(nameof(InferenceRequested), "resolution", 0)]
    [InlineData(nameof(InferenceRequested), "pageIndex", "0")]
    [InlineData(nameof(ResultStored), "valid", "true")]
    [InlineData(nameof(DocumentReceived), "source", "ftp")]
    public void Member_of_the_wrong_type_or_format_fails_validation(string message, string member, object value)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        json[member] = JsonValue.Create(value);
        Assert.False(MessageSchemas.Evaluate(type, json).IsValid, $"{member}={value} validated");
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Unknown_task_fails_validation(string message)
    {
        var type = Samples.TypeNamed(message);
        var json = MessageSchemas.Serialize(Samples.For(type));
        json["task"] = "ocr";
        Assert.False(MessageSchemas.Evaluate(type, json).IsValid);
    }

    [Theory]
    [InlineData(nameof(DocumentReceived), true)]
    [InlineData(nameof(SubmitDocument), true)]
    [InlineData(nameof(InferenceRequested), false)]
    [InlineData(nameof(DocumentPrepared), false)]
    [InlineData(nameof(ResultStored), false)]
    public void Task_enum_is_the_task_names_contract(string message, bool intakeAcceptsAuto)
    {
        var expected = intakeAcceptsAuto ? [.. TaskNames.Inference, TaskNames.Auto] : TaskNames.Inference.ToList();
        var schema = MessageSchemas.RawSchema(Samples.TypeNamed(message));
        var actual = schema["properties"]!["task"]!["enum"]!.AsArray().Select(n => (string)n!);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
    }

    private static IEnumerable<PropertyInfo> PublicProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.Name != "EqualityContract");

    private static string CamelCase(PropertyInfo p) => MessageSchemas.Json.PropertyNamingPolicy!.ConvertName(p.Name);
}
