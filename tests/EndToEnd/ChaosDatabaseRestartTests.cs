using System.Net;
using System.Net.Http.Headers;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// Issue 12: the Api process over a PostgreSQL of the test's own, which the test restarts. The Api's pooled
/// connections are dead afterwards; EF Core's retry on transient failures must make the next request succeed, not 500.
/// </summary>
public sealed class ChaosDatabaseRestartTests : IAsyncLifetime
{
    private const string Key = "restart-key";
    private readonly string _root = TestServices.NewTempDirectory("pgrestart");
    private ChaosCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ChaosCluster.StartAsync(_root, rabbitMq: false);

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task The_first_api_requests_after_a_postgres_restart_succeed()
    {
        var rabbit = await TestServices.CreateVirtualHostAsync("pgrestart");
        var env = _cluster.Environment(rabbit, Key);
        var (api, client) = await ServiceProcess.StartApiAsync(env, Key);
        await using (api)
        using (client)
        {
            // Fill the Api's connection pool, then restart the server under it.
            var first = await UploadAsync(client, "before.pdf");
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            var url = first.Headers.Location!.ToString();
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url)).StatusCode);
            }

            await _cluster.StopPostgresAsync();
            await _cluster.StartPostgresAsync();

            using var read = await client.GetAsync(url);
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"first read after the restart: {(int)read.StatusCode} {await read.Content.ReadAsStringAsync()}\n{api.Output}");
            using var write = await UploadAsync(client, "after.pdf");
            Assert.True(write.StatusCode == HttpStatusCode.Accepted, $"first upload after the restart: {(int)write.StatusCode} {await write.Content.ReadAsStringAsync()}\n{api.Output}");
            Assert.Equal(2, await TestServices.ScalarAsync<long>(_cluster.Postgres, "select count(*) from documents"));
        }
    }

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient client, string name)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", name == "before.pdf" ? "upref.pdf" : "ltxtable.pdf")));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        form.Add(file, "file", name);
        return await client.PostAsync("/v1/documents?task=table", form);
    }
}
