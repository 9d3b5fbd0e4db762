using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Api.Tests;

/// <summary>The Api in-process on a fresh PostgreSQL database and RabbitMQ vhost, with settings a test adds.</summary>
internal static class ApiFactory
{
    public const string Key = "test-key-7f3a";

    public static async Task<(WebApplicationFactory<Program> Factory, string Root)> CreateAsync(
        string prefix, IReadOnlyDictionary<string, string> settings, Func<Uri, Uri>? rabbit = null)
    {
        var root = TestServices.NewTempDirectory(prefix);
        var vhost = await TestServices.CreateVirtualHostAsync(prefix);
        var postgres = await TestServices.CreateDatabaseAsync(prefix);
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Pipeline:Transport", "RabbitMq");
            b.UseSetting("ConnectionStrings:RabbitMq", (rabbit?.Invoke(vhost) ?? vhost).ToString());
            b.UseSetting("Storage:Provider", "Postgres");
            b.UseSetting("ConnectionStrings:Postgres", postgres);
            b.UseSetting("Storage:BlobRoot", Path.Combine(root, "blobs"));
            b.UseSetting("Api:Keys:0", Key);
            foreach (var (k, v) in settings)
            {
                b.UseSetting(k, v);
            }
        });
        return (factory, root);
    }

    public static HttpClient Client(this WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return client;
    }
}
