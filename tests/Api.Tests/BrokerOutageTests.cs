using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Api.Tests;

/// <summary>The Api reaches the real RabbitMQ through a <see cref="TcpGate"/> the test closes: a broker outage for that Api only.</summary>
public sealed class BrokerOutageTests
{
    private static MultipartFormDataContent Form(byte[] bytes)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", "outage.bin");
        return form;
    }

    [Fact]
    public async Task While_the_broker_is_down_ready_is_503_and_uploads_get_503_with_retry_after_and_recovery_finishes_them()
    {
        var rabbit = TestServices.RabbitMq;
        await using var gate = new TcpGate(rabbit.Host, rabbit.Port);
        var (factory, root) = await ApiFactory.CreateAsync("apiout", new Dictionary<string, string>
        {
            ["Roles"] = "api,intake,prepare",
            ["Intake:PublishTimeout"] = "00:00:02",
            ["Intake:RepublishAfter"] = "00:00:01",
            ["Recovery:Interval"] = "00:00:01",
            ["Api:RetryAfter"] = "00:00:07",
        }, vhost => new UriBuilder(vhost) { Host = "127.0.0.1", Port = gate.Port }.Uri);
        try
        {
            using var client = factory.Client();
            Assert.True(await TestServices.EventuallyAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60)));

            gate.Close();
            Assert.True(await TestServices.EventuallyAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30)),
                "/health/ready still answered 200 with the broker unreachable");
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);

            // Bytes no preparer accepts: the document ends failed, which shows it was announced after the outage.
            var bytes = new byte[5000];
            Random.Shared.NextBytes(bytes);
            var clock = Stopwatch.StartNew();
            using var refused = await client.PostAsync("/v1/documents?task=table", Form(bytes));
            clock.Stop();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"503 took {clock.Elapsed}");
            Assert.Equal(TimeSpan.FromSeconds(7), refused.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            var id = problem.GetProperty("documentId").GetGuid();

            gate.Open();
            Assert.True(await TestServices.EventuallyAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60)));
            JsonElement doc = default;
            Assert.True(await TestServices.EventuallyAsync(async () =>
            {
                doc = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}");
                return doc.GetProperty("status").GetString() == "failed";
            }, TimeSpan.FromSeconds(60)), $"document {id} not finished after the broker came back");

            using var retry = await client.PostAsync("/v1/documents?task=table", Form(bytes));
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            var again = await retry.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(id, again.GetProperty("id").GetGuid());
            Assert.True(again.GetProperty("duplicate").GetBoolean());
        }
        finally
        {
            gate.Open();
            await factory.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }
}
