using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Api.Tests;

/// <summary>The HTTP API in-process over real RabbitMQ and PostgreSQL, preparation running beside it.</summary>
public sealed class DocumentsApiTests : IAsyncLifetime
{
    private const string Key = "test-key-7f3a";
    private WebApplicationFactory<Program> _factory = null!;
    private string _root = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("api");
        var rabbit = await TestServices.CreateVirtualHostAsync("api");
        var postgres = await TestServices.CreateDatabaseAsync("api");
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Pipeline:Transport", "RabbitMq");
            b.UseSetting("Roles", "api,intake,prepare");
            b.UseSetting("ConnectionStrings:RabbitMq", rabbit.ToString());
            b.UseSetting("Storage:Provider", "Postgres");
            b.UseSetting("ConnectionStrings:Postgres", postgres);
            b.UseSetting("Storage:BlobRoot", Path.Combine(_root, "blobs"));
            b.UseSetting("Api:Keys:0", Key);
        });
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private HttpClient Client(string? key = Key)
    {
        var client = _factory.CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
        }

        return client;
    }

    private static MultipartFormDataContent Form(byte[] bytes, string name)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        form.Add(file, "file", name);
        return form;
    }

    [Fact]
    public async Task Upload_returns_202_with_a_status_url_that_shows_pages_and_queued_jobs()
    {
        using var client = Client();
        var bytes = await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", "ltxtable.pdf"));
        using var response = await client.PostAsync("/v1/documents?task=table", Form(bytes, "report.pdf"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var statusUrl = accepted.GetProperty("statusUrl").GetString()!;
        Assert.Equal(response.Headers.Location?.ToString(), statusUrl);

        JsonElement doc = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await client.GetFromJsonAsync<JsonElement>(statusUrl);
            return doc.GetProperty("status").GetString() == "queued";
        }, TimeSpan.FromSeconds(60)));

        Assert.Equal("report.pdf", doc.GetProperty("fileName").GetString());
        Assert.Equal("api", doc.GetProperty("source").GetString());
        Assert.Equal(3, doc.GetProperty("metadata").GetProperty("pageCount").GetInt32());
        var pages = doc.GetProperty("pages").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], pages.Select(p => p.GetProperty("index").GetInt32()));
        Assert.All(pages, p => Assert.Equal("queued", Assert.Single(p.GetProperty("jobs").EnumerateArray()).GetProperty("status").GetString()));
        Assert.All(pages, p => Assert.True(p.GetProperty("hasTextLayer").GetBoolean()));
    }

    [Fact]
    public async Task Concurrent_uploads_of_the_same_bytes_return_one_document()
    {
        var bytes = await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", "upref.pdf"));
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            using var client = Client();
            using var r = await client.PostAsync("/v1/documents?task=molecule", Form(bytes, $"copy-{i}.pdf"));
            return (r.StatusCode, Body: await r.Content.ReadFromJsonAsync<JsonElement>());
        }));

        Assert.Single(responses.Select(r => r.Body.GetProperty("id").GetGuid()).Distinct());
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Accepted), r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.True(r.Body.GetProperty("duplicate").GetBoolean());
        });
    }

    [Fact]
    public async Task Requests_without_the_api_key_are_refused_with_problem_details()
    {
        using var anonymous = Client(key: null);
        using var response = await anonymous.GetAsync($"/v1/documents/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        using var wrong = Client("not-the-key");
        using var upload = await wrong.PostAsync("/v1/documents?task=table", Form([1, 2, 3], "x.pdf"));
        Assert.Equal(HttpStatusCode.Unauthorized, upload.StatusCode);
    }

    [Fact]
    public async Task Unknown_task_and_missing_file_are_400_and_unknown_id_is_404()
    {
        using var client = Client();
        using var badTask = await client.PostAsync("/v1/documents?task=poetry", Form([1, 2, 3], "x.pdf"));
        Assert.Equal(HttpStatusCode.BadRequest, badTask.StatusCode);
        var problem = await badTask.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("table", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var empty = new MultipartFormDataContent { { new StringContent("x"), "note" } };
        using var noFile = await client.PostAsync("/v1/documents?task=table", empty);
        Assert.Equal(HttpStatusCode.BadRequest, noFile.StatusCode);

        using var missing = await client.GetAsync($"/v1/documents/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_corrupt_upload_ends_failed_with_its_reason_visible_over_http()
    {
        using var client = Client();
        var bytes = await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", DamagedPdfs.ContentFuzzed));
        using var response = await client.PostAsync("/v1/documents?task=table", Form(bytes, "fuzzed.pdf"));
        var url = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("statusUrl").GetString()!;
        JsonElement doc = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await client.GetFromJsonAsync<JsonElement>(url);
            return doc.GetProperty("status").GetString() == "failed";
        }, TimeSpan.FromSeconds(60)));
        Assert.Contains("drew no visible content on any page", doc.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("pdf_damaged_blank", doc.GetProperty("reasonCode").GetString());
    }

    [Fact]
    public async Task A_radiograph_uploaded_with_task_auto_is_queued_for_the_report_task()
    {
        var dx = Path.Combine(_root, "dx.dcm");
        File.Copy(TestServices.CorpusFile("dicom", "MR_small.dcm"), dx);
        using (var p = System.Diagnostics.Process.Start("dcmodify", ["-nb", "-m", "(0008,0060)=CR", dx]))
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }

        using var client = Client();
        using var response = await client.PostAsync("/v1/documents?task=auto", Form(await File.ReadAllBytesAsync(dx), "cr.dcm"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var url = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("statusUrl").GetString()!;
        JsonElement doc = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await client.GetFromJsonAsync<JsonElement>(url);
            return doc.GetProperty("status").GetString() is "queued" or "failed";
        }, TimeSpan.FromSeconds(60)));
        Assert.Equal("queued", doc.GetProperty("status").GetString());
        Assert.Equal("CR", doc.GetProperty("metadata").GetProperty("modality").GetString());
        var job = Assert.Single(Assert.Single(doc.GetProperty("pages").EnumerateArray()).GetProperty("jobs").EnumerateArray());
        Assert.Equal("report", job.GetProperty("task").GetString());
    }
}
