using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using PaliGemma2.DocPipeline.Tests.Shared;
using RabbitMQ.Client;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>The API and the worker as separate processes over real RabbitMQ, PostgreSQL and a shared blob folder.</summary>
public sealed class DistributedProcessesTests : IAsyncLifetime
{
    private const string Key = "e2e-key";
    private Dictionary<string, string> _env = null!;
    private string _root = null!;
    private Uri _rabbit = null!;
    private string _postgres = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("e2e");
        (_env, _rabbit, _postgres) = await ServiceProcess.DistributedEnvironmentAsync("e2e", _root);
        _env["Intake__DropFolder"] = Path.Combine(_root, "inbox");
        _env["Intake__SharedRoot"] = Path.Combine(_root, "shared");
        _env["Intake__StableFor"] = "00:00:00.300";
        _env["Api__Keys__0"] = Key;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    // Small renderer chunks keep a long document in 'preparing' for seconds, long enough to kill the worker there.
    private ServiceProcess StartWorker() => ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"),
        new Dictionary<string, string>(_env) { ["Preparation__Pdf__PagesPerRun"] = "5" });

    private Task<(ServiceProcess Api, HttpClient Client)> StartApiAsync() => ServiceProcess.StartApiAsync(_env, Key);

    private static async Task<JsonElement> UploadAsync(HttpClient client, byte[] pdf, string name)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(pdf);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        form.Add(file, "file", name);
        using var response = await client.PostAsync("/v1/documents?task=table", form);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task An_upload_to_the_api_process_is_prepared_by_the_worker_process()
    {
        await using var worker = StartWorker();
        var (api, client) = await StartApiAsync();
        await using (api)
        using (client)
        {
            var accepted = await UploadAsync(client, await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", "upref.pdf")), "z.pdf");
            var url = accepted.GetProperty("statusUrl").GetString()!;
            JsonElement doc = default;
            Assert.True(await TestServices.EventuallyAsync(async () =>
            {
                doc = await client.GetFromJsonAsync<JsonElement>(url);
                return doc.GetProperty("status").GetString() == "queued";
            }, TimeSpan.FromSeconds(90)), "worker output:\n" + worker.Output);
            Assert.Equal(2, doc.GetProperty("pages").GetArrayLength());

            // The worker's drop folder feeds the same store.
            var inbox = Path.Combine(_root, "inbox", "table");
            Assert.True(await TestServices.EventuallyAsync(() => Task.FromResult(Directory.Exists(inbox)), TimeSpan.FromSeconds(30)));
            File.Copy(TestServices.CorpusFile("pdf", "ltxtable.pdf"), Path.Combine(inbox, "dropped.pdf"));
            Assert.True(await TestServices.EventuallyAsync(async () =>
                await ScalarAsync<long>("select count(*) from documents where file_name = 'dropped.pdf' and status = 'queued'") == 1, TimeSpan.FromSeconds(60)));
            Assert.Equal(2 + 3, await ScalarAsync<long>("select count(*) from pages"));
        }
    }

    [Fact]
    public async Task Killing_the_worker_mid_preparation_loses_and_duplicates_nothing()
    {
        const int pages = 300;
        var (api, client) = await StartApiAsync();
        await using (api)
        using (client)
        {
            var worker = StartWorker();
            // Publish only once the worker's queue is bound: an event published before any queue is bound to its
            // exchange is dropped by RabbitMQ, and only the stalled-document sweeper (minutes later) would recover it.
            Assert.True(await TestServices.WaitForConsumerAsync(_rabbit, "prepare-document", TimeSpan.FromSeconds(60)), worker.Output);
            var accepted = await UploadAsync(client, BuildPdf(pages), "long.pdf");
            var id = accepted.GetProperty("id").GetGuid();

            // Kill it while it is rendering, then start a fresh one: the broker redelivers the unacked message.
            Assert.True(await TestServices.EventuallyAsync(async () =>
                await ScalarAsync<string>($"select status from documents where id = '{id}'") == "preparing", TimeSpan.FromSeconds(60)), worker.Output);
            worker.Kill();
            await worker.DisposeAsync();

            await using var second = StartWorker();
            Assert.True(await TestServices.EventuallyAsync(async () =>
                await ScalarAsync<string>($"select status from documents where id = '{id}'") == "queued", TimeSpan.FromSeconds(180)), second.Output);

            Assert.Equal(pages, await ScalarAsync<long>($"select count(*) from pages where document_id = '{id}'"));
            Assert.Equal(pages, await ScalarAsync<long>($"select count(distinct index) from pages where document_id = '{id}'"));
            Assert.Equal(pages, await ScalarAsync<long>($"select count(*) from jobs where document_id = '{id}'"));

            // Every job has at least one request on the queue; a job may be requested twice (the consumer is keyed on job id).
            var jobIds = await ListAsync($"select id::text from jobs where document_id = '{id}'");
            var queued = await QueuedJobIdsAsync();
            Assert.Subset(queued.ToHashSet(), jobIds.ToHashSet());
            Assert.Equal(jobIds.Count, queued.Distinct().Count());
        }
    }

    private async Task<List<string>> QueuedJobIdsAsync()
    {
        var factory = new ConnectionFactory { Uri = _rabbit };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var ids = new List<string>();
        while (await channel.BasicGetAsync("infer-table", autoAck: true) is { } delivery)
        {
            using var envelope = JsonDocument.Parse(delivery.Body);
            ids.Add(envelope.RootElement.GetProperty("message").GetProperty("jobId").GetString()!);
        }

        return ids;
    }

    private Task<T?> ScalarAsync<T>(string sql) => TestServices.ScalarAsync<T>(_postgres, sql);

    private Task<List<string>> ListAsync(string sql) => TestServices.ColumnAsync(_postgres, sql);

    private static byte[] BuildPdf(int pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        for (var i = 0; i < pages; i++)
        {
            var page = builder.AddPage(PageSize.A4);
            for (var line = 0; line < 40; line++)
            {
                page.AddText($"Page {i + 1} line {line + 1}: 12.5 | 13.75 | 99.1", 10, new PdfPoint(50, 800 - (line * 18)), font);
            }
        }

        return builder.Build();
    }
}
