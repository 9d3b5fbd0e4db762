using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// Another team's publisher, as the README shows it: RabbitMQ's management HTTP API (what rabbitmqadmin
/// and the README's Python example use) publishing SubmitDocument to queue submit-document of a real
/// Worker process, as plain JSON of the schema and as MassTransit's envelope.
/// </summary>
public sealed class SubmitDocumentTests : IAsyncLifetime
{
    private Dictionary<string, string> _env = null!;
    private Uri _rabbit = null!;
    private string _postgres = null!;
    private string _root = null!;
    private string _shared = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("submit");
        _shared = Directory.CreateDirectory(Path.Combine(_root, "shared")).FullName;
        (_env, _rabbit, _postgres) = await ServiceProcess.DistributedEnvironmentAsync("submit", _root);
        _env["Intake__SharedRoot"] = _shared;
        _env["Roles"] = "intake";
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Plain_json_and_the_envelope_both_become_documents_and_an_invalid_message_faults_with_its_schema_errors()
    {
        await using var worker = ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"), _env);
        Assert.True(await TestServices.WaitForConsumerAsync(_rabbit, "submit-document", TimeSpan.FromSeconds(90)), worker.Output);

        var plainNoType = Drop("plain-no-type.png");
        var plainJson = Drop("plain-json.png");
        var envelope = Drop("envelope.png");

        // Plain JSON of the schema, no content type: the README's rabbitmqadmin call.
        var management = TestServices.RabbitMqManagement;
        var credentials = Uri.UnescapeDataString(management.UserInfo).Split(':', 2);
        var admin = await ToolAsync("rabbitmqadmin", null, "-H", management.Host, "-P", management.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-u", credentials[0], "-p", credentials[1], "-V", _rabbit.AbsolutePath.TrimStart('/'),
            "publish", "exchange=amq.default", "routing_key=submit-document", "properties={\"delivery_mode\":2}",
            "payload=" + new JsonObject { ["task"] = "table", ["path"] = plainNoType }.ToJsonString());
        Assert.Equal("Message published", admin.Trim());   // rabbitmqadmin adds "but NOT routed" when no queue took it

        // Plain JSON as application/json: the README's Python example, run as it stands there.
        var readme = await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "README.md"));
        var start = readme.IndexOf("```python\n", StringComparison.Ordinal) + "```python\n".Length;
        var python = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        var printed = await ToolAsync("python3", new Dictionary<string, string>
        {
            ["RABBITMQ_API"] = $"http://{management.Host}:{management.Port}/api",
            ["RABBITMQ_VHOST"] = _rabbit.AbsolutePath.TrimStart('/'),
            ["RABBITMQ_AUTH"] = Uri.UnescapeDataString(management.UserInfo),
            ["DOC_PATH"] = plainJson,
        }, "-c", python);
        Assert.Contains("'routed': True", printed, StringComparison.Ordinal);

        // MassTransit's envelope, as schemas/README.md documents it.
        await PublishAsync(new JsonObject
        {
            ["messageId"] = Guid.NewGuid().ToString(),
            ["messageType"] = new JsonArray("urn:message:PaliGemma2.DocPipeline.Contracts:SubmitDocument"),
            ["message"] = new JsonObject { ["task"] = "table", ["path"] = envelope, ["fileName"] = "scan 7 (original).png" },
        }.ToJsonString(), "application/vnd.masstransit+json");
        // Fails the schema: no path, a number for task.
        await PublishAsync("""{"task": 7, "fileName": "x.png"}""", "application/json");

        Assert.True(await TestServices.EventuallyAsync(async () =>
            await TestServices.ScalarAsync<long>(_postgres, "select count(*) from documents where source = 'queue'") == 3,
            TimeSpan.FromSeconds(60)), worker.Output);
        Assert.Equal(3, await TestServices.ScalarAsync<long>(_postgres,
            "select count(*) from documents where source = 'queue' and file_name in ('plain-no-type.png', 'plain-json.png', 'scan 7 (original).png')"));

        // The invalid one is kept, with a readable reason, in submit-document_error.
        JsonElement faulted = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            var messages = await GetAsync("submit-document_error");
            if (messages.GetArrayLength() == 0)
            {
                return false;
            }

            faulted = messages[0].Clone();
            return true;
        }, TimeSpan.FromSeconds(60)), worker.Output);
        var reason = faulted.GetProperty("properties").GetProperty("headers").GetProperty("DocPipeline-Schema-Errors").GetString();
        Assert.Contains("submit-document.schema.json", reason, StringComparison.Ordinal);
        Assert.Contains("path", reason, StringComparison.Ordinal);
        Assert.Contains("/task", reason, StringComparison.Ordinal);
        Assert.Equal(1, (await GetAsync("submit-document_error")).GetArrayLength());
        Assert.Equal(3, await TestServices.ScalarAsync<long>(_postgres, "select count(*) from documents"));
        Assert.False(worker.HasExited, worker.Output);
    }

    // A small PNG under the shared root, written by this test (distinct bytes per name); returns its relative path.
    private string Drop(string name)
    {
        var relative = Path.Combine("lab", name);
        var full = Path.Combine(_shared, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.Copy(Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.png"), full);
        File.AppendAllText(full, name);   // trailing bytes after IEND: still a PNG, another sha256
        return relative;
    }

    private static async Task<string> ToolAsync(string tool, IDictionary<string, string>? env, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, $"{tool} exited {p.ExitCode}:\n{output}");
        return output;
    }

    private string VirtualHost => Uri.EscapeDataString(_rabbit.AbsolutePath.TrimStart('/'));

    private async Task PublishAsync(string payload, string? contentType)
    {
        var properties = new JsonObject { ["delivery_mode"] = 2 };
        if (contentType is not null)
        {
            properties["content_type"] = contentType;
        }

        var body = new JsonObject
        {
            ["properties"] = properties, ["routing_key"] = "submit-document", ["payload"] = payload, ["payload_encoding"] = "string",
        };
        using var http = TestServices.ManagementClient();
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"api/exchanges/{VirtualHost}/amq.default/publish", content);
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode && answer.Contains("\"routed\":true", StringComparison.Ordinal), answer);
    }

    private async Task<JsonElement> GetAsync(string queue)
    {
        using var http = TestServices.ManagementClient();
        using var content = new StringContent("""{"count": 10, "ackmode": "ack_requeue_true", "encoding": "auto"}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"api/queues/{VirtualHost}/{queue}/get", content);
        // 404 until MassTransit has created the error queue: nothing there yet.
        using var json = JsonDocument.Parse(response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : "[]");
        return json.RootElement.Clone();
    }
}
